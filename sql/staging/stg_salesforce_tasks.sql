-- The keys of every loadable row of the current Task export (a full snapshot: each load replaces the last):
-- what de-duplication and row accounting need, for the load only: a view of the typed rows (Session.scratch;
-- nothing is copied). The typed rows are written once, by marts/fact_tasks.sql, straight from {{ typed_rows }}.
create or replace {{ scratch_view }} {{ staged_table }} as
select load_id, file_name, line, Id, WhoId, CreatedDate, LastModifiedDate, parse_failures
from {{ typed_rows }}
where Id is not null and WhoId is not null
