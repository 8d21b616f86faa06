-- Quarantine for the current load ({{ raw_table }}): one row per unparseable cell (the row is still loaded,
-- with NULL there) and one per row that cannot be loaded at all (no usable {{ row_key_name }}).
insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason)
with failed as (
  select s.load_id, s.file_name, s.line, column_name
  from {{ staged_table }} as s
  cross join unnest(split(s.parse_failures, ';')) as column_name
  where s.load_id = {{ load_id }} and s.parse_failures != '' and column_name != ''
)

select
  f.load_id,
  f.file_name,
  f.line,
  f.column_name,
  case f.column_name {{ raw_value_cases }} end as raw_value,
  case f.column_name {{ reason_cases }} end as reason
from failed as f
inner join {{ raw_table }} as r on f.file_name = r.file_name and f.line = r.line

union all

select r.load_id, r.file_name, r.line, '{{ row_key_name }}' as column_name, {{ row_key_raw }} as raw_value,
  {{ row_key_reason }} as reason
from {{ raw_table }} as r
where {{ row_key_parsed }} is null
