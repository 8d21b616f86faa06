-- Salesforce Lead rows of the current load: cleaned (v__*) and parsed per the contract types.
-- PII columns become has_* presence flags; their values never leave raw.
create or replace table staging.lead_cells as
with source as (
  select * from raw.salesforce_leads
),

cleaned as (
  select
    load_id,
    file_name,
    line,
    extra_json,
    {{ cleaned_columns }}
  from source
)

select
  load_id,
  file_name,
  line,
  extra_json,
  {{ cleaned_names }},
  {{ parsed_columns }}
from cleaned
