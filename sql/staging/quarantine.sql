-- Quarantine for the current load ({{ typed_rows }}): one row per unparseable cell of a loaded row (the row is
-- still loaded, with NULL there) and one per row that cannot be loaded at all (no usable {{ row_key_name }}).
-- The raw text shown is the cell as sent, kept in raw_evidence by staging/typed.sql.
insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason)
with failed as (
  select s.load_id, s.file_name, s.line, s.raw_evidence, column_name
  from {{ typed_rows }} as s
  cross join unnest(split(s.parse_failures, ';')) as column_name
  where s.load_id = {{ load_id }} and {{ loaded_condition }} and s.parse_failures != '' and column_name != ''
)

select
  f.load_id,
  f.file_name,
  f.line,
  f.column_name,
  case f.column_name {{ raw_value_cases }} end as raw_value,
  case f.column_name {{ reason_cases }} end as reason
from failed as f

union all

select r.load_id, r.file_name, r.line, '{{ row_key_name }}' as column_name, {{ row_key_raw }} as raw_value,
  {{ row_key_reason }} as reason
from {{ typed_rows }} as r
where r.load_id = {{ load_id }} and r.{{ row_key_name }} is null
