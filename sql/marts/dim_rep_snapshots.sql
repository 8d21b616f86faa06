-- One row per rep per snapshot month. Reps exported in more than one territory keep the most complete
-- record (fewest nulls; ties broken by territory, then file position) — spec §5.1.3.
-- dim_reps_current is a view on the newest month, so it always agrees with the snapshots.
create table if not exists marts.dim_rep_snapshots as
select * from staging.stg_territory_reps where false;

delete from marts.dim_rep_snapshots
where snapshot_month in (select distinct snapshot_month from raw.territory_rows);

insert into marts.dim_rep_snapshots
select *
from staging.stg_territory_reps
where snapshot_month in (select distinct snapshot_month from raw.territory_rows)
qualify row_number() over (
  partition by snapshot_month, RepCRD
  order by completeness desc, territory, file_name, line
) = 1;

create or replace view marts.dim_reps_current as
select *
from marts.dim_rep_snapshots
where snapshot_month = (select max(snapshot_month) from marts.dim_rep_snapshots)
