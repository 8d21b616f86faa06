-- One row per Lead: repeated Ids keep the newest LastModifiedDate; a CRD on several Leads keeps the
-- newest Lead (spec §5.1.3). Every dropped row is listed in staging.lead_duplicates with its reason.
create or replace table marts.dim_leads
partition by timestamp_trunc(Stage_Entered_Contacting__c, month)
cluster by FA_CRD__c
as
with by_id as (
  select Id, FA_CRD__c, LastModifiedDate, line
  from staging.stg_salesforce_leads
  where true
  qualify row_number() over (
    partition by Id order by LastModifiedDate desc nulls last, line desc
  ) = 1
),

kept as (
  select line
  from by_id
  where true
  qualify FA_CRD__c is null
    or row_number() over (partition by FA_CRD__c order by LastModifiedDate desc nulls last, Id) = 1
)

-- The choice is made on the narrow key columns (a window over the wide rows carries every column through its
-- sort) and the kept rows are taken by line, unique within the export, from the load's typed rows.
select load_id, file_name, line, extra_json, parse_failures, {{ staged_names }}
from {{ typed_rows }}
where Id is not null and line in (select line from kept);

create or replace table staging.lead_duplicates as
with id_counts as (
  select Id, count(*) as n from staging.stg_salesforce_leads group by Id
)

select
  s.load_id,
  s.file_name,
  s.line,
  s.Id,
  s.FA_CRD__c,
  s.LastModifiedDate,
  case
    when c.n > 1 and s.Id in (select Id from marts.dim_leads)
      then 'duplicate Id: an export row with a newer LastModifiedDate was kept'
    else 'duplicate FA_CRD__c: a newer Lead with the same CRD was kept'
  end as reason
from staging.stg_salesforce_leads as s
inner join id_counts as c on s.Id = c.Id
where s.line not in (select line from marts.dim_leads)
