-- Typed Salesforce Leads from the latest export (a full snapshot: each load replaces the last).
create or replace table staging.stg_salesforce_leads as
select load_id, file_name, line, extra_json, parse_failures, {{ staged_names }}
from {{ typed_rows }}
where Id is not null
