-- Tasks that belong to no record (no WhoId): quarantined, beside what staging/salesforce_quarantine.sql finds.
insert into staging.quarantine (load_id, file_name, line, column_name, raw_value, reason)
select t.load_id, t.file_name, t.line, 'WhoId' as column_name, r.WhoId as raw_value,
  'row not loaded: WhoId is empty (the Task belongs to no Lead)' as reason
from staging.task_typed as t
inner join raw.salesforce_tasks as r on t.file_name = r.file_name and t.line = r.line
where t.Id is not null and t.WhoId is null
