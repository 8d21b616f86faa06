-- The keys of every loadable row of the latest Task export (a full snapshot: each load replaces the last):
-- what de-duplication and row accounting need. The typed rows are written once, by marts/fact_tasks.sql,
-- straight from {{ typed_rows }}.
create or replace table staging.stg_salesforce_tasks as
select load_id, file_name, line, Id, WhoId, CreatedDate, LastModifiedDate, parse_failures
from {{ typed_rows }}
where Id is not null and WhoId is not null
