-- Match rate per territory. A contacted lead belongs to the territory that exports most reps in its
-- State (learned from the current snapshot); leads whose State no territory covers count as 'unknown'.
with reps as (
  select * from marts.dim_reps_current
),

state_territory as (
  select upper(Branch_State) as state, territory
  from reps
  where Branch_State is not null
  group by upper(Branch_State), territory
  qualify row_number() over (partition by upper(Branch_State) order by count(*) desc, territory) = 1
),

reps_per_territory as (
  select territory, count(*) as reps_in_territory from reps group by territory
),

contacted as (
  select Id, FA_CRD__c, upper(trim(State)) as state
  from marts.dim_leads
  where Stage_Entered_Contacting__c is not null
),

per_territory as (
  select
    coalesce(st.territory, 'unknown') as territory,
    count(*) as contacted_leads,
    countif(r.RepCRD is not null) as matched
  from contacted as c
  left join state_territory as st on c.state = st.state
  left join reps as r on c.FA_CRD__c = r.RepCRD
  group by coalesce(st.territory, 'unknown')
)

select
  p.territory,
  p.contacted_leads,
  p.matched,
  coalesce(t.reps_in_territory, 0) as reps_in_territory
from per_territory as p
left join reps_per_territory as t on p.territory = t.territory
order by p.territory
