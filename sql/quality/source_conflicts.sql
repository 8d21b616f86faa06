-- Cross-source consistency (spec §9.2): for each contact month, the contacted leads matched to a MarketPro rep
-- (in the snapshot the features used) whose Salesforce State differs from the rep's branch state.
select
  lb.contact_month as period,
  count(*) as matched,
  countif(upper(trim(l.State)) != upper(trim(r.Branch_State))) as conflicts
from (
  select c.lead_id, c.snapshot_month, c.contact_month, lab.crd
  from ml.lead_snapshot_choice as c
  inner join ml.lead_labels as lab on lab.lead_id = c.lead_id
) as lb
inner join marts.dim_leads as l on l.Id = lb.lead_id
inner join marts.dim_rep_snapshots as r on r.snapshot_month = lb.snapshot_month and r.RepCRD = lb.crd
where l.State is not null and r.Branch_State is not null
group by lb.contact_month
order by period
