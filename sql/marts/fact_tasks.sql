-- One row per Task: repeated Ids keep the newest LastModifiedDate (overlapping export pages). Tasks on
-- other objects than a Lead (WhoId not a loaded Lead) are kept here and ignored by lead_dials.
-- The rows dropped are chosen first, on the narrow keys in {{ staged_table }} (a window over the
-- typed rows carries every column through its sort); the Tasks are the typed rows of every other line.
create or replace table staging.task_duplicates as
select s.load_id, s.file_name, s.line, s.Id, s.LastModifiedDate,
  'duplicate Id: an export row with a newer LastModifiedDate was kept' as reason
from {{ staged_table }} as s
-- only repeated Ids are ranked (a hash count is half the cost of a window over every Task)
where s.Id in (select Id from {{ staged_table }} group by Id having count(*) > 1)
qualify row_number() over (partition by Id order by LastModifiedDate desc nulls last, line desc) > 1;

create or replace table marts.fact_tasks
partition by timestamp_trunc(created_at, month)
cluster by lead_id
as
select
  Id as task_id,
  WhoId as lead_id,
  OwnerId as owner_id,
  CreatedDate as created_at,
  ActivityDate as activity_date,
  TaskSubtype as task_subtype,
  Type as task_type,
  CallDurationInSeconds as call_seconds,
  CallDisposition as call_disposition,
  Status as status,
  LastModifiedDate as last_modified_at,
  -- A dial: TaskSubtype = Call, or Type = Call when TaskSubtype is blank (contract).
  coalesce(lower(TaskSubtype) = 'call', lower(Type) = 'call', false) as is_dial
from {{ typed_rows }}
where Id is not null and WhoId is not null
  and line not in (select line from staging.task_duplicates)
