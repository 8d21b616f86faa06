-- The keys of every loadable row of the latest Lead export (a full snapshot: each load replaces the last):
-- what de-duplication, row accounting and the reconciliation need. The typed wide rows are written once, by
-- marts/dim_leads.sql, straight from {{ typed_rows }} (a wide copy here cost a second write of every row).
create or replace table staging.stg_salesforce_leads as
select load_id, file_name, line, Id, FA_CRD__c, CreatedDate, LastModifiedDate, parse_failures
from {{ typed_rows }}
where Id is not null
