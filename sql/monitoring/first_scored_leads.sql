-- Each lead's first score (ml.lead_first_scores, or its aggregate over the history where a warehouse predates the
-- table) with what monitoring's cohorts judge it by: the lead's contact time, its label and AUM, and whether that
-- first score came within NEAR_CONTACT_DAYS (8) days of contact (a lead first scored months after contact says nothing about its
-- week), and whether the lead matched a MarketPro rep (conversion by tier and discovery data, spec §9.1). A left join: a score whose lead has no features row keeps its row, with no contact time.
-- Only the columns the cohorts use (each string column gathered through the join costs ~1 ms per 40k leads); the
-- score date compared as a date (formatting every contact date as text cost more than the rest of the test).
select
  s.lead_id, s.prob, s.tier, s.model_version, s.backfilled,
  f.contacted_at, f.label, f.label_status, {{ aum }} as aum, {{ discovery }} as discovery,
  -- on the contact day or after: a recycled lead (its contact stage moved to a new outreach) keeps a first score
  -- from an earlier contact, which says nothing about this one
  cast(s.score_date as date) between date(f.contacted_at)
    and date_add(date(f.contacted_at), interval {{ near_contact_days }} day) as near_contact
from {{ first_scores }} as s
left join ml.lead_features as f on f.lead_id = s.lead_id
