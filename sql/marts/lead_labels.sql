-- 30-day MQL labels for every contacted lead, judged as of {{ as_of }} (the export time, not the wall clock).
-- label_status: positive | negative | censored (contacted less than the window before as_of: scored, never
-- trained on) | defect_mql_before_contact (MQL stamped before contact: counted and excluded) |
-- contacted_after_as_of (not yet contacted at as_of).
-- Elapsed time is counted in whole seconds (UNIX_SECONDS), not with TIMESTAMP_DIFF, whose day counting
-- differs between BigQuery and DuckDB.
-- The build slot (a table-name suffix) is empty for the live build (what scoring, monitoring and experiments read) or names a build kept
-- beside it (a backtest's, a first champion's training rows): see core/features/build.py.
create or replace table ml.lead_labels{{ build }}
partition by timestamp_trunc(contacted_at, month)
cluster by crd
as
with leads as (
  select
    Id as lead_id,
    FA_CRD__c as crd,
    CreatedDate as created_at,
    Stage_Entered_Contacting__c as contacted_at,
    Stage_Entered_Call_Scheduled__c as mql_at,
    -- The owner features' owner at contact. A Lead a queue owns in the export (a Group Id, 00G…) was moved there
    -- after contact (no queue dials: recycled, unassigned), and the queue would teach the model what followed the
    -- contact. Its SGA then is unknown; it reads the owner of the Lead contacted just before it (after it, for the
    -- first Leads): a draw from the SGAs working then, which no longer tells recycled Leads from the rest.
    case when not starts_with(OwnerId, '00G') then OwnerId end as sga_owner
  from marts.dim_leads
  where Stage_Entered_Contacting__c is not null
),

owned as (
  select
    * except (sga_owner),
    coalesce(
      sga_owner,
      last_value(sga_owner ignore nulls) over (
        order by contacted_at, lead_id rows between unbounded preceding and current row),
      first_value(sga_owner ignore nulls) over (
        order by contacted_at, lead_id rows between current row and unbounded following)
    ) as owner_at_contact
  from leads
),

timed as (
  select
    *,
    unix_seconds(mql_at) - unix_seconds(contacted_at) as seconds_to_mql,
    unix_seconds({{ as_of }}) - unix_seconds(contacted_at) as seconds_observed
  from owned
),

judged as (
  select
    *,
    case
      when seconds_observed < 0 then 'contacted_after_as_of'
      when mql_at is not null and mql_at <= {{ as_of }} and seconds_to_mql < 0 then 'defect_mql_before_contact'
      when seconds_observed < {{ window_seconds }} then 'censored'
      when mql_at is not null and mql_at <= {{ as_of }} and seconds_to_mql <= {{ window_seconds }} then 'positive'
      else 'negative'
    end as label_status
  from timed
)

select
  lead_id,
  crd,
  created_at,
  contacted_at,
  mql_at,
  seconds_to_mql,
  {{ as_of }} as as_of,
  label_status,
  case label_status when 'positive' then 1 when 'negative' then 0 end as label,
  owner_at_contact
from judged
