-- One row per rep per snapshot month: the rep_rank = 1 record of staging.stg_territory_reps, so the
-- mart can never disagree with the rows it comes from and a month's replacement is one atomic step.
-- dim_reps_current is the newest month.
create or replace view marts.dim_rep_snapshots as
select * except (rep_rank)
from staging.stg_territory_reps
where rep_rank = 1;

create or replace view marts.dim_reps_current as
select *
from marts.dim_rep_snapshots
where snapshot_month = (select max(snapshot_month) from marts.dim_rep_snapshots)
