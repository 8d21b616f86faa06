-- Each lead's first score, what SGAs first saw of it and so what monitoring's cohorts judge: the earliest score
-- date, on that date the earliest scoring run (a same-day rescore comes later; a row without a scoring time
-- still counts). Kept as ml.lead_first_scores by every write to the score history (core/scoring/score.py,
-- refresh_first_scores), so monitoring reads one row per lead instead of aggregating the whole history.
select lead_id, f.score_date, f.prob, f.tier, f.model_version, f.backfilled
from (
  select
    lead_id,
    min_by(struct(score_date, prob_mql_30d as prob, tier, model_version, {{ backfilled }}),
           concat(score_date, coalesce(format_timestamp('%Y-%m-%d %H:%M:%E6S', scored_at), ''))) as f
  from ml.score_history
  where {{ where }}
  group by lead_id
)
