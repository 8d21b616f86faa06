-- Each lead's first score (ml.lead_first_scores, or its aggregate over the history where a warehouse predates the
-- table) with what monitoring's cohorts judge it by: the lead's contact time, its label and AUM, and whether that
-- first score came within 8 days of contact (a lead first scored months after contact says nothing about its
-- week). A left join: a score whose lead has no features row keeps its row, with no contact time.
select
  s.lead_id, s.score_date, s.prob, s.tier, s.model_version, s.backfilled,
  f.contacted_at, f.label, f.label_status, {{ aum }} as aum,
  s.score_date <= format_date('%Y-%m-%d', date_add(date(f.contacted_at), interval 8 day)) as near_contact
from {{ first_scores }} as s
left join ml.lead_features as f on f.lead_id = s.lead_id
