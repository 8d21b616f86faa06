-- Table {{ typed_rows }}: every row of the current load ({{ raw_table }}, all text: territory rows, Leads or
-- Tasks) cleaned of NA spellings and parsed per the contract types, materialised once (an intermediate,
-- Session.scratch). The raw rows are read exactly once, here: a large file is streamed through this statement
-- and never stored as text. parse_failures lists the columns whose non-empty text did not parse (NULL here;
-- they go to the quarantine); raw_evidence keeps, only on rows with something to quarantine, the raw text of
-- the cells the quarantine reports (JSON). PII columns become has_* presence flags; their values never leave
-- raw. {{ meta_columns }} carries the load's own columns (territory, snapshot month).
create or replace {{ scratch_kind }} {{ typed_rows }} as
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
    {{ raw_carried }},
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
    {{ raw_names }},
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
    {{ raw_names }},
    {{ kept_cleaned }},
    {{ typed_columns }}
  from parsed
),

checked as (
  select
    *,
    {{ completeness_column }}
    {{ parse_failures }} as parse_failures
  from typed
)

select
  * except ({{ raw_names }}, {{ kept_cleaned }}),
  {{ raw_evidence }} as raw_evidence
from checked
