-- Cross-source consistency (spec §9.2): for each contact month, the contacted leads matched to a MarketPro rep
-- (in the snapshot the features used) whose Salesforce State differs from the rep's branch state. The per-lead
-- check is built with the features (marts/lead_source_checks.sql).
select
  contact_month as period,
  count(*) as matched,
  countif(state_conflict) as conflicts
from ml.lead_source_checks
group by contact_month
order by period
