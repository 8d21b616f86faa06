-- Territory rows of the current load: NA spellings cleaned (v__*), then parsed per the contract types.
-- Input: raw.territory_rows (all text, one column per contract field). Both forms are kept so that
-- quarantine can name the raw value that failed.
create or replace table staging.territory_cells as
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
    extra_json,
    {{ cleaned_columns }}
  from source
)

select
  load_id,
  file_name,
  territory,
  snapshot_month,
  line,
  extra_json,
  {{ cleaned_names }},
  {{ parsed_columns }}
from cleaned
