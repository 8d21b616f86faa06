-- The keys of every loadable row of the current Lead export (a full snapshot: each load replaces the last):
-- what de-duplication and row accounting need, for the load only: a view of the typed rows (Session.scratch;
-- nothing is copied). The reconciliation reads the same rows as marts.dim_leads plus staging.lead_duplicates.
-- The typed wide rows are written once, by marts/dim_leads.sql, straight from {{ typed_rows }}.
create or replace {{ scratch_view }} {{ staged_table }} as
select load_id, file_name, line, Id, FA_CRD__c, CreatedDate, LastModifiedDate, Stage_Entered_Contacting__c, parse_failures
from {{ typed_rows }}
where Id is not null
