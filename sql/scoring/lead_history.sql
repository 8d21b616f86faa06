-- Every day {{ lead_id }} was scored (ml.score_history keeps one row per lead per scoring day): the probability,
-- the figure the list is ordered by (probability plus any priority boost), tier and rank, the model and its
-- reasons that day, and whether the row was backfilled (scored at first start as a backtest would, as of its
-- day: never on a list an SGA saw).
select
  h.score_date,
  h.prob_mql_30d,
  h.adjusted,
  h.tier,
  h.rank,
  h.drivers,
  h.model_version,
  h.fallback_level,
  h.scored_at,
  coalesce(h.backfilled, false) as backfilled
from ml.score_history as h
where h.lead_id = {{ lead_id }}
order by h.score_date
