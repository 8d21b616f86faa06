-- Typed Salesforce Tasks from the latest activity export (a full snapshot: each load replaces the last).
create or replace table staging.stg_salesforce_tasks as
select load_id, file_name, line, extra_json, parse_failures, {{ staged_names }}
from {{ typed_rows }}
where Id is not null and WhoId is not null
