-- View: the Task rows of the current activity load (raw.salesforce_tasks, all text) cleaned and parsed per
-- the contract types (salesforce_task_columns.csv).
create or replace view staging.task_typed as
with source as (
  select * from raw.salesforce_tasks
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
