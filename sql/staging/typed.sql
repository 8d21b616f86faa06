-- View {{ typed_view }}: the rows of the current load ({{ raw_table }}, all text: territory rows, Leads or Tasks)
-- cleaned of NA spellings and parsed per the contract types. parse_failures lists the columns whose non-empty
-- text did not parse (NULL here; they go to the quarantine). PII columns become has_* presence flags; their
-- values never leave raw. {{ meta_columns }} carries the load's own columns (territory, snapshot month).
create or replace view {{ typed_view }} as
with source as (
  select * from {{ raw_table }}
),

cleaned as (
  select
    load_id,
    file_name,
    {{ meta_columns }}
    line,
    {{ extra_json }} as extra_json,
    {{ cleaned_columns }}
  from source
),

parsed as (
  select
    load_id,
    file_name,
    {{ meta_columns }}
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
    {{ meta_columns }}
    line,
    extra_json,
    {{ kept_cleaned }},
    {{ typed_columns }}
  from parsed
)

select
  *,
  {{ completeness_column }}
  {{ parse_failures }} as parse_failures
from typed
