-- View: the territory rows of the current load (raw.territory_rows, all text) cleaned of NA spellings
-- and parsed per the contract types. parse_failures lists the columns whose non-empty text did not
-- parse (they are NULL here and go to the quarantine); completeness counts non-null fields.
create or replace view staging.territory_typed as
with source as (
  select * from raw.territory_rows
),

cleaned as (
  select
    load_id,
    file_name,
    territory,
    snapshot_month,
    line,
    {{ extra_json }} as extra_json,
    {{ cleaned_columns }}
  from source
),

parsed as (
  select
    load_id,
    file_name,
    territory,
    snapshot_month,
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
    territory,
    snapshot_month,
    line,
    extra_json,
    {{ kept_cleaned }},
    {{ typed_columns }}
  from parsed
)

select
  *,
  {{ completeness }} as completeness,
  {{ parse_failures }} as parse_failures
from typed
