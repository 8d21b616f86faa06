-- View {{ typed_view }}: the rows of the current Salesforce export load ({{ raw_table }}, all text: Leads or
-- Tasks) cleaned and parsed per the contract types. PII columns become has_* presence flags; their values never
-- leave raw.
create or replace view {{ typed_view }} as
with source as (
  select * from {{ raw_table }}
),

cleaned as (
  select
    load_id,
    file_name,
    line,
    {{ extra_json }} as extra_json,
    {{ cleaned_columns }}
  from source
),

parsed as (
  select
    load_id,
    file_name,
    line,
    extra_json,
    {{ kept_cleaned }},
    {{ parsed_columns }}
  from cleaned
),

typed as (
  select
    load_id,
    file_name,
    line,
    extra_json,
    {{ kept_cleaned }},
    {{ typed_columns }}
  from parsed
)

select
  *,
  {{ parse_failures }} as parse_failures
from typed
