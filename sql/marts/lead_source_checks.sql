-- Cross-source consistency per contacted lead (spec §9.2), built with the features from the same
-- point-in-time snapshot: leads matched to a MarketPro rep with both states known, and whether the
-- Salesforce State differs from the rep's branch state. Feed health groups it by contact month
-- (quality/source_conflicts.sql) instead of joining every territory snapshot again on each run.
create or replace table ml.lead_source_checks as
select
  c.lead_id,
  c.contact_month,
  -- the two states, each as a two-letter code ('New York', 'N.Y.' and 'NY' agree: core.features.catalog.state_code)
  {{ lead_state }} != {{ branch_state }} as state_conflict
from ml.lead_snapshot_choice as c
inner join ml.lead_labels as lab on lab.lead_id = c.lead_id
inner join marts.dim_leads as l on l.Id = c.lead_id
inner join marts.dim_rep_snapshots as r on r.snapshot_month = c.snapshot_month and r.RepCRD = lab.crd
where l.State is not null and r.Branch_State is not null
