-- Tasks that belong to no record (no WhoId): quarantined, beside what staging/quarantine.sql finds.
insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason)
select t.load_id, t.file_name, t.line, 'WhoId' as column_name, json_value(t.raw_evidence, '$.WhoId') as raw_value,
  'row not loaded: WhoId is empty (the Task belongs to no Lead)' as reason
from {{ typed_rows }} as t
where t.load_id = {{ load_id }} and t.Id is not null and t.WhoId is null
