-- Reconciliation stage 1-3 headline numbers (spec §5.0.4) over the current warehouse tables.
with reps as (
  select * from marts.dim_reps_current
),

leads as (
  select * from marts.dim_leads
),

contacted as (
  select * from leads where Stage_Entered_Contacting__c is not null
),

matched as (
  select c.Id, r.RepCRD, r.RIAFirmCRD, r.TotalAssetsInMillions
  from contacted as c
  inner join reps as r on c.FA_CRD__c = r.RepCRD
),

territory_loads as (
  select * from raw.file_loads
  where kind = 'territory' and load_id in (select distinct load_id from reps)
),

lead_load as (
  select * from raw.file_loads
  where kind = 'leads' and load_id in (select distinct load_id from leads)
),

-- the export's rows with an Id: the Leads kept and the duplicates dropped (each row is one or the other)
sf_crd_dups as (
  select FA_CRD__c
  from (
    select Id, FA_CRD__c from marts.dim_leads
    union all
    select Id, FA_CRD__c from staging.lead_duplicates
  )
  where FA_CRD__c is not null
  group by FA_CRD__c
  having count(distinct Id) > 1
),

reps_multi_leads as (
  select FA_CRD__c from leads where FA_CRD__c is not null group by FA_CRD__c having count(*) > 1
)

select
  (select max(snapshot_month) from reps) as snapshot_month,
  (select sum(rows_read) from territory_loads) as territory_rows_read,
  (select sum(rows_loaded) from territory_loads) as territory_rows_loaded,
  (select sum(rows_quarantined) from territory_loads) as territory_rows_quarantined,
  (select sum(cells_quarantined) from territory_loads) as territory_cells_quarantined,
  (select count(*) from reps) as unique_reps,
  (select sum(rows_loaded) from territory_loads) - (select count(*) from reps) as cross_territory_duplicate_rows,
  (select countif(RIAFirmCRD is not null and TotalAssetsInMillions is not null) from reps) as reps_with_firm_data,
  (select sum(rows_read) from lead_load) as salesforce_rows_read,
  (select sum(rows_quarantined) from lead_load) as salesforce_rows_quarantined,
  (select sum(cells_quarantined) from lead_load) as salesforce_cells_quarantined,
  (select count(*) from leads) as salesforce_leads,
  (select count(*) from staging.lead_duplicates) as salesforce_duplicate_rows_resolved,
  (select count(*) from sf_crd_dups) as duplicate_crds_salesforce,
  (select count(*) from reps_multi_leads) as crds_on_several_leads_after_resolution,
  (select count(*) from contacted) as contacted_leads,
  (select countif(FA_CRD__c is null) from contacted) as contacted_without_crd,
  (select count(*) from matched) as contacted_matched,
  (select countif(RIAFirmCRD is not null and TotalAssetsInMillions is not null) from matched)
    as matched_with_firm_data,
  (select max(export_at) from lead_load) as leads_export_at
