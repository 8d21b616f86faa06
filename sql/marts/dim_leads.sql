-- One row per Lead: repeated Ids keep the newest LastModifiedDate; a CRD on several Leads keeps the
-- contacted Lead, else the newest (spec §5.1.3: one row per advisor). A list imported again creates a new,
-- uncontacted Lead for an advisor called months ago: kept as the newest, it dropped the contacted Lead and its
-- label. Every dropped row is listed in staging.lead_duplicates with its reason.
-- The dropped rows are chosen first, on the narrow keys, and only among repeated Ids and CRDs (a hash count
-- is half the cost of ranking every Lead); the Leads are the load's typed rows of every other line.
create or replace table staging.lead_duplicates as
with id_dropped as (
  select load_id, file_name, line, Id, FA_CRD__c, LastModifiedDate, Stage_Entered_Contacting__c
  from {{ staged_table }}
  where Id in (select Id from {{ staged_table }} group by Id having count(*) > 1)
  qualify row_number() over (
    partition by Id order by LastModifiedDate desc nulls last, line desc
  ) > 1
),

by_id as (
  select load_id, file_name, line, Id, FA_CRD__c, LastModifiedDate, Stage_Entered_Contacting__c
  from {{ staged_table }}
  where line not in (select line from id_dropped)
),

crd_dropped as (
  select load_id, file_name, line, Id, FA_CRD__c, LastModifiedDate, Stage_Entered_Contacting__c
  from by_id
  where FA_CRD__c in (select FA_CRD__c from by_id where FA_CRD__c is not null group by FA_CRD__c having count(*) > 1)
  qualify row_number() over (
    partition by FA_CRD__c
    order by Stage_Entered_Contacting__c is not null desc, LastModifiedDate desc nulls last, Id
  ) > 1
)

select
  load_id, file_name, line, Id, FA_CRD__c, LastModifiedDate,
  -- an older copy of an Id whose newest copy lost to another Lead with the same CRD: dropped for the CRD
  case
    when Id in (select Id from crd_dropped) then 'duplicate FA_CRD__c: another Lead with the same CRD was kept (the contacted one, else the newest)'
    else 'duplicate Id: an export row with a newer LastModifiedDate was kept'
  end as reason
from id_dropped
union all
select load_id, file_name, line, Id, FA_CRD__c, LastModifiedDate,
  'duplicate FA_CRD__c: another Lead with the same CRD was kept (the contacted one, else the newest)' as reason
from crd_dropped;

create or replace table marts.dim_leads
partition by timestamp_trunc(Stage_Entered_Contacting__c, month)
cluster by FA_CRD__c
as
select load_id, file_name, line, extra_json, parse_failures, {{ staged_names }}
from {{ typed_rows }}
where Id is not null and line not in (select line from staging.lead_duplicates)
