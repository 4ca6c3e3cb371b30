"""Stored answers, packed: a decision's answer is kept as compact JSON deflated against a preset
dictionary of typical answers (the keys, the names, the rule descriptions, the routing trace's
phrases), so that a stored answer costs a few hundred bytes instead of about two thousand, every
explanation kept. The first byte names the format; a dictionary, once used, never changes (a new
one would be format 2, the old one kept to read what it wrote).

What the store's SQL reads (language, the classifier's level) lives in columns beside it, and what
the row holds already (the ids, the instants) is not kept twice (lean and whole)."""

import json
import zlib
from datetime import UTC, datetime

import sqlalchemy as sa

FORMAT = b"\x01"  # raw deflate (window 2**15) with DICTIONARY_1 (32 kB: the whole window)

# typical answers of the bundled rules, compact JSON; frozen: format 1 reads with exactly these bytes
DICTIONARY_1 = "".join(
    (
        '500-70b9-b417-1c311b2efbca","case_id":"case-56","severity":{"level":3,"name":"system disturbance","s'
        'ource":"rules","matched_rules":[{"id":"slow-response","severity":3,"description":"The system or one '
        'component is slow."}],"declared":1,"note":"Declared 1 (business-critical outage) is more severe than'
        " the evidence: rule 'slow-response' (The system or one component is slow.) assigns 3 (system disturb"
        'ance); the provider\'s classification prevails.","classifier":null},"language":{"code":"pl","confiden'
        'ce":1.0,"source":"detected","supported":true},"signals":["slow"],"evidence":[{"signal":"slow","sourc'
        'e":"pl","matched":"wolne"}],"region":"EMEA","sla":{"plan":"premium","target_minutes":720,"clock":"24'
        '/7","due_at":"2026-12-01T11:14:22.262145+00:00","guaranteed":true,"note":null,"at_risk":false,"at_ri'
        'sk_reason":null},"routing":{"pool":"pl-l1","tier":"L1","respond_in":"pl","open_now":true,"available_'
        'at":"2026-11-30T10:00:00+00:00","urgent":false,"routes":["first-line"],"priority":"normal","trace":['
        '"region EMEA: PL is in EMEA (Europe, Africa, the Middle East and the CIS)","route first-line: First '
        'line - the local pool, then the region, then anyone in the language, then English.","not urgent: sev'
        'erity 3","chosen pl-l1 (L1, EMEA): open now, answers in pl"]},"entitlement":{"ok":true,"problems":[]'
        '},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 regions@1 ro'
        'uting@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.262145+00:00","decided_at":"'
        '2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-7b9d-bb0a-b18ce0dd7d95","case_id":"case-59"'
        ',"severity":{"level":4,"name":"general advice","source":"rules","matched_rules":[{"id":"advice","sev'
        'erity":4,"description":"A question, how-to or feature request, with no sign of a malfunction."}],"de'
        'clared":4,"note":null,"classifier":null},"language":{"code":"pl","confidence":1.0,"source":"detected'
        '","supported":true},"signals":["question","how_to"],"evidence":[{"signal":"question","source":"pl","'
        'matched":"pytanie"},{"signal":"how_to","source":"pl","matched":"jak skonfigurowac"}],"region":"EMEA"'
        ',"sla":{"plan":"premium","target_minutes":1440,"clock":"24/7","due_at":"2026-12-01T23:14:22.265252+0'
        '0:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":null},"routing":{"pool":"pl-l1"'
        ',"tier":"L1","respond_in":"pl","open_now":true,"available_at":"2026-11-30T10:00:00+00:00","urgent":f'
        'alse,"routes":["first-line"],"priority":"normal","trace":["region EMEA: PL is in EMEA (Europe, Afric'
        'a, the Middle East and the CIS)","route first-line: First line - the local pool, then the region, th'
        'en anyone in the language, then English.","not urgent: severity 4","chosen pl-l1 (L1, EMEA): open no'
        'w, answers in pl"]},"entitlement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule'
        '_documents":"contracts@1 escalation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"repo'
        'rted_at":"2026-11-30T23:14:22.265252+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":'
        '"01a22be5-a500-7b97-9383-18be5b991d02","case_id":"case-61","severity":{"level":1,"name":"business-cr'
        'itical outage","source":"rules","matched_rules":[{"id":"outage-critical","severity":1,"description":'
        '"The service is down for everyone, in production, or with business processes stopped."},{"id":"broke'
        'n-for-everyone","severity":1,"description":"A function fails for everyone and stops business (orders'
        ', sales, payments)."},{"id":"outage-limited","severity":2,"description":"Something is down, but only'
        ' partly, for some users, or without stated business impact."}],"declared":2,"note":"Declared 2 (prod'
        "uction system degraded) is less severe than the evidence: rule 'outage-critical' (The service is dow"
        "n for everyone, in production, or with business processes stopped.) assigns 1 (business-critical out"
        'age); the provider\'s classification prevails.","classifier":null},"language":{"code":"da","confidenc'
        'e":1.0,"source":"detected","supported":true},"signals":["outage","widespread","business_impact","urg'
        'ent","production"],"evidence":[{"signal":"outage","source":"da","matched":"nede"},{"signal":"widespr'
        'ead","source":"da","matched":"hele systemet"},{"signal":"business_impact","source":"da","matched":"s'
        'tar stille"},{"signal":"urgent","source":"da","matched":"haster"},{"signal":"production","source":"d'
        'e","matched":"produktionssystemet"}],"region":"EMEA","sla":{"plan":"advanced","target_minutes":240,"'
        'clock":"24/7","due_at":"2026-12-01T03:14:22.275492+00:00","guaranteed":false,"note":"Plan advanced d'
        "efines no target for severity 1; no response time is guaranteed. The nearest defined target (severit"
        'y 2, 240 min) is applied.","at_risk":false,"at_risk_reason":null},"routing":{"pool":"dk-l1","tier":"'
        'L1","respond_in":"da","open_now":true,"available_at":"2026-11-30T10:00:00+00:00","urgent":true,"rout'
        'es":["first-line"],"priority":"normal","trace":["region EMEA: DK is in EMEA (Europe, Africa, the Mid'
        'dle East and the CIS)","route first-line: First line - the local pool, then the region, then anyone '
        'in the language, then English.","urgent: severity 1","chosen dk-l1 (L1, EMEA): open now, answers in '
        'da"]},"entitlement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"c'
        'ontracts@1 escalation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026'
        '-11-30T23:14:22.275492+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500'
        '-7b35-86a7-6b009a11ddfb","case_id":"case-62","severity":{"level":1,"name":"business-critical outage"'
        ',"source":"rules","matched_rules":[{"id":"outage-critical","severity":1,"description":"The service i'
        's down for everyone, in production, or with business processes stopped."},{"id":"broken-for-everyone'
        '","severity":1,"description":"A function fails for everyone and stops business (orders, sales, payme'
        'nts)."},{"id":"provisioning-blocked","severity":1,"description":"Instances can be neither created no'
        'r terminated, with production or business impact."},{"id":"outage-limited","severity":2,"description'
        '":"Something is down, but only partly, for some users, or without stated business impact."},{"id":"p'
        'rovisioning-partial","severity":3,"description":"New instances cannot be provisioned while existing '
        'ones run."}],"declared":3,"note":"Declared 3 (system disturbance) is less severe than the evidence: '
        "rule 'outage-critical' (The service is down for everyone, in production, or with business processes "
        'stopped.) assigns 1 (business-critical outage); the provider\'s classification prevails.","classifier'
        '":null},"language":{"code":"da","confidence":1.0,"source":"detected","supported":true},"signals":["o'
        'utage","provisioning","widespread","business_impact"],"evidence":[{"signal":"outage","source":"da","'
        'matched":"virker ikke"},{"signal":"provisioning","source":"da","matched":"hverken oprette eller slet'
        'te"},{"signal":"widespread","source":"da","matched":"helt"},{"signal":"business_impact","source":"da'
        '","matched":"mister salg"}],"region":"EMEA","sla":{"plan":"premium","target_minutes":30,"clock":"24/'
        '7","due_at":"2026-11-30T23:44:22.277359+00:00","guaranteed":true,"note":null,"at_risk":false,"at_ris'
        'k_reason":null},"routing":{"pool":"premium-247","tier":"L1","respond_in":"en","open_now":true,"avail'
        'able_at":"2026-11-30T10:00:00+00:00","urgent":true,"routes":["premium-urgent","first-line"],"priorit'
        'y":"normal","trace":["region EMEA: DK is in EMEA (Europe, Africa, the Middle East and the CIS)","rou'
        'te premium-urgent: Premium business-critical and degraded cases go to the 24/7 premium team first.",'
        '"route first-line: First line - the local pool, then the region, then anyone in the language, then E'
        'nglish.","urgent: severity 1","chosen premium-247 (L1, EMEA): open now, answers in en"]},"entitlemen'
        't":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escala'
        'tion@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.2'
        '77359+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-7a7c-a602-c6ed5d'
        '9a2cd7","case_id":"case-64","severity":{"level":2,"name":"production system degraded","source":"rule'
        's","matched_rules":[{"id":"outage-limited","severity":2,"description":"Something is down, but only p'
        'artly, for some users, or without stated business impact."},{"id":"degraded-service","severity":2,"d'
        'escription":"Important functions fail partly or intermittently; work goes on, restricted."}],"declar'
        'ed":1,"note":"Declared 1 (business-critical outage) is more severe than the evidence: rule \'outage-l'
        "imited' (Something is down, but only partly, for some users, or without stated business impact.) ass"
        'igns 2 (production system degraded); the provider\'s classification prevails.","classifier":null},"la'
        'nguage":{"code":"da","confidence":1.0,"source":"detected","supported":true},"signals":["outage","deg'
        'raded"],"evidence":[{"signal":"outage","source":"da","matched":"falder ud"},{"signal":"degraded","so'
        'urce":"da","matched":"periodiske"}],"region":"EMEA","sla":{"plan":"advanced","target_minutes":240,"c'
        'lock":"24/7","due_at":"2026-12-01T03:14:22.288381+00:00","guaranteed":true,"note":null,"at_risk":fal'
        'se,"at_risk_reason":null},"routing":{"pool":"dk-l1","tier":"L1","respond_in":"da","open_now":true,"a'
        'vailable_at":"2026-11-30T10:00:00+00:00","urgent":true,"routes":["first-line"],"priority":"normal","'
        'trace":["region EMEA: DK is in EMEA (Europe, Africa, the Middle East and the CIS)","route first-line'
        ': First line - the local pool, then the region, then anyone in the language, then English.","urgent:'
        ' severity 2","chosen dk-l1 (L1, EMEA): open now, answers in da"]},"entitlement":{"ok":true,"problems'
        '":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 regions@'
        '1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.288381+00:00","decided_a'
        't":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-74b4-827d-231377c172fd","case_id":"case'
        '-65","severity":{"level":2,"name":"production system degraded","source":"rules","matched_rules":[{"i'
        'd":"degraded-service","severity":2,"description":"Important functions fail partly or intermittently;'
        ' work goes on, restricted."},{"id":"production-impaired-declared","severity":2,"description":"The cu'
        'stomer declares a production problem severe (1-2) and reports errors or slowness."},{"id":"function-'
        'error","severity":3,"description":"A function fails with an error or a wrong result."}],"declared":2'
        ',"note":null,"classifier":null},"language":{"code":"da","confidence":1.0,"source":"detected","suppor'
        'ted":true},"signals":["degraded","error","production","others_fine"],"evidence":[{"signal":"degraded'
        '","source":"da","matched":"delvist"},{"signal":"error","source":"da","matched":"fejler"},{"signal":"'
        'production","source":"de","matched":"produktionen"},{"signal":"others_fine","source":"da","matched":'
        '"resten af systemet fungerer"}],"region":"EMEA","sla":{"plan":"premium","target_minutes":60,"clock":'
        '"24/7","due_at":"2026-12-01T00:14:22.289560+00:00","guaranteed":true,"note":null,"at_risk":false,"at'
        '_risk_reason":null},"routing":{"pool":"premium-247","tier":"L1","respond_in":"en","open_now":true,"a'
        'vailable_at":"2026-11-30T10:00:00+00:00","urgent":true,"routes":["premium-urgent","first-line"],"pri'
        'ority":"normal","trace":["region EMEA: DK is in EMEA (Europe, Africa, the Middle East and the CIS)",'
        '"route premium-urgent: Premium business-critical and degraded cases go to the 24/7 premium team firs'
        't.","route first-line: First line - the local pool, then the region, then anyone in the language, th'
        'en English.","urgent: severity 2","chosen premium-247 (L1, EMEA): open now, answers in en"]},"entitl'
        'ement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 es'
        'calation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:'
        '22.289560+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-7042-b888-ef'
        '36d475031b","case_id":"case-66","severity":{"level":3,"name":"system disturbance","source":"rules","'
        'matched_rules":[{"id":"slow-response","severity":3,"description":"The system or one component is slo'
        'w."}],"declared":3,"note":null,"classifier":null},"language":{"code":"da","confidence":1.0,"source":'
        '"detected","supported":true},"signals":["slow"],"evidence":[{"signal":"slow","source":"da","matched"'
        ':"langsom"}],"region":"EMEA","sla":{"plan":"basic","target_minutes":720,"clock":"business-hours","du'
        'e_at":"2026-12-02T12:00:00+01:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":nul'
        'l},"routing":{"pool":"dk-l1","tier":"L1","respond_in":"da","open_now":true,"available_at":"2026-11-3'
        '0T10:00:00+00:00","urgent":false,"routes":["first-line"],"priority":"normal","trace":["region EMEA: '
        'DK is in EMEA (Europe, Africa, the Middle East and the CIS)","route first-line: First line - the loc'
        'al pool, then the region, then anyone in the language, then English.","not urgent: the basic plan ru'
        'ns on business hours; nothing follows the sun","chosen dk-l1 (L1, EMEA): open now, answers in da"]},'
        '"entitlement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contrac'
        'ts@1 escalation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30'
        'T23:14:22.298759+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-72a9-'
        '8165-615449f8974d","case_id":"case-69","severity":{"level":4,"name":"general advice","source":"rules'
        '","matched_rules":[{"id":"advice","severity":4,"description":"A question, how-to or feature request,'
        ' with no sign of a malfunction."}],"declared":2,"note":"Declared 2 (production system degraded) is m'
        "ore severe than the evidence: rule 'advice' (A question, how-to or feature request, with no sign of "
        'a malfunction.) assigns 4 (general advice); the provider\'s classification prevails.","classifier":nu'
        'll},"language":{"code":"da","confidence":1.0,"source":"detected","supported":true},"signals":["quest'
        'ion","how_to"],"evidence":[{"signal":"question","source":"da","matched":"sporgsmal"},{"signal":"how_'
        'to","source":"da","matched":"hvordan"}],"region":"EMEA","sla":{"plan":"basic","target_minutes":2160,'
        '"clock":"business-hours","due_at":"2026-12-04T18:00:00+01:00","guaranteed":true,"note":null,"at_risk'
        '":false,"at_risk_reason":null},"routing":{"pool":"dk-l1","tier":"L1","respond_in":"da","open_now":tr'
        'ue,"available_at":"2026-11-30T10:00:00+00:00","urgent":false,"routes":["first-line"],"priority":"nor'
        'mal","trace":["region EMEA: DK is in EMEA (Europe, Africa, the Middle East and the CIS)","route firs'
        't-line: First line - the local pool, then the region, then anyone in the language, then English.","n'
        'ot urgent: the basic plan runs on business hours; nothing follows the sun","chosen dk-l1 (L1, EMEA):'
        ' open now, answers in da"]},"entitlement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1'
        'a","rule_documents":"contracts@1 escalation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1'
        '"},"reported_at":"2026-11-30T23:14:22.302076+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decis'
        'ion_id":"01a22be5-a500-78ad-a239-59f0bafd6fc8","case_id":"case-74","severity":{"level":2,"name":"pro'
        'duction system degraded","source":"rules","matched_rules":[{"id":"degraded-service","severity":2,"de'
        'scription":"Important functions fail partly or intermittently; work goes on, restricted."}],"declare'
        'd":3,"note":"Declared 3 (system disturbance) is less severe than the evidence: rule \'degraded-servic'
        "e' (Important functions fail partly or intermittently; work goes on, restricted.) assigns 2 (product"
        'ion system degraded); the provider\'s classification prevails.","classifier":null},"language":{"code"'
        ':"en","confidence":1.0,"source":"detected","supported":true},"signals":["degraded"],"evidence":[{"si'
        'gnal":"degraded","source":"en","matched":"disconnects"}],"region":"EMEA","sla":{"plan":"premium","ta'
        'rget_minutes":60,"clock":"24/7","due_at":"2026-12-01T00:14:22.326302+00:00","guaranteed":true,"note"'
        ':null,"at_risk":false,"at_risk_reason":null},"routing":{"pool":"premium-247","tier":"L1","respond_in'
        '":"en","open_now":true,"available_at":"2026-11-30T10:00:00+00:00","urgent":true,"routes":["premium-u'
        'rgent","first-line"],"priority":"normal","trace":["region EMEA: GB is in EMEA (Europe, Africa, the M'
        'iddle East and the CIS)","route premium-urgent: Premium business-critical and degraded cases go to t'
        'he 24/7 premium team first.","route first-line: First line - the local pool, then the region, then a'
        'nyone in the language, then English.","urgent: severity 2","chosen premium-247 (L1, EMEA): open now,'
        ' answers in en"]},"entitlement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_d'
        'ocuments":"contracts@1 escalation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"report'
        'ed_at":"2026-11-30T23:14:22.326302+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"0'
        '1a22be5-a500-70f8-8c4d-bba50304af41","case_id":"case-76","severity":{"level":1,"name":"business-crit'
        'ical outage","source":"declared","matched_rules":[],"declared":1,"note":"No rule matched; the declar'
        'ed severity is accepted as plausible.","classifier":null},"language":{"code":"en","confidence":1.0,"'
        'source":"detected","supported":true},"signals":["widespread","business_impact"],"evidence":[{"signal'
        '":"widespread","source":"de","matched":"totals"},{"signal":"business_impact","source":"en","matched"'
        ':"revenue"}],"region":"EMEA","sla":{"plan":"advanced","target_minutes":240,"clock":"24/7","due_at":"'
        '2026-12-01T03:14:22.350977+00:00","guaranteed":false,"note":"Plan advanced defines no target for sev'
        "erity 1; no response time is guaranteed. The nearest defined target (severity 2, 240 min) is applied"
        '.","at_risk":false,"at_risk_reason":null},"routing":{"pool":"gb-l1","tier":"L1","respond_in":"en","o'
        'pen_now":true,"available_at":"2026-11-30T10:00:00+00:00","urgent":true,"routes":["first-line"],"prio'
        'rity":"normal","trace":["region EMEA: GB is in EMEA (Europe, Africa, the Middle East and the CIS)","'
        "route first-line: First line - the local pool, then the region, then anyone in the language, then En"
        'glish.","urgent: severity 1","chosen gb-l1 (L1, EMEA): open now, answers in en"]},"entitlement":{"ok'
        '":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 '
        'pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.350977+0'
        '0:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-78ad-ac30-4f8e37f43f2e"'
        ',"case_id":"case-83","severity":{"level":4,"name":"general advice","source":"declared","matched_rule'
        's":[],"declared":4,"note":"No rule matched; the declared severity is accepted as plausible.","classi'
        'fier":null},"language":{"code":"de","confidence":1.0,"source":"detected","supported":true},"signals"'
        ':[],"evidence":[],"region":"EMEA","sla":{"plan":"premium","target_minutes":1440,"clock":"24/7","due_'
        'at":"2026-12-01T23:14:22.377791+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason'
        '":null},"routing":{"pool":"de-l1","tier":"L1","respond_in":"de","open_now":true,"available_at":"2026'
        '-11-30T10:00:00+00:00","urgent":false,"routes":["first-line"],"priority":"normal","trace":["region E'
        'MEA: DE is in EMEA (Europe, Africa, the Middle East and the CIS)","route first-line: First line - th'
        'e local pool, then the region, then anyone in the language, then English.","not urgent: severity 4",'
        '"chosen de-l1 (L1, EMEA): open now, answers in de"]},"entitlement":{"ok":true,"problems":[]},"versio'
        'ns":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 regions@1 routing@1 s'
        'everity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.377791+00:00","decided_at":"2026-11-3'
        '0T10:00:00+00:00"}{"decision_id":"01a22be5-a500-7fb6-9b98-d8c51e54e747","case_id":"case-89","severit'
        'y":{"level":2,"name":"production system degraded","source":"rules","matched_rules":[{"id":"degraded-'
        'service","severity":2,"description":"Important functions fail partly or intermittently; work goes on'
        ', restricted."}],"declared":2,"note":null,"classifier":null},"language":{"code":"ru","confidence":1.'
        '0,"source":"detected","supported":true},"signals":["degraded","production"],"evidence":[{"signal":"d'
        'egraded","source":"ru","matched":"периодически"},{"signal":"production","source":"ru","matched":"про'
        'дуктиве"}],"region":"EMEA","sla":{"plan":"premium","target_minutes":60,"clock":"24/7","due_at":"2026'
        '-12-01T00:14:22.403664+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":null},"'
        'routing":{"pool":"premium-247","tier":"L1","respond_in":"ru","open_now":true,"available_at":"2026-11'
        '-30T10:00:00+00:00","urgent":true,"routes":["premium-urgent","first-line"],"priority":"normal","trac'
        'e":["region EMEA: RU is in EMEA (Europe, Africa, the Middle East and the CIS)","route premium-urgent'
        ': Premium business-critical and degraded cases go to the 24/7 premium team first.","route first-line'
        ': First line - the local pool, then the region, then anyone in the language, then English.","urgent:'
        ' severity 2","chosen premium-247 (L1, EMEA): open now, answers in ru"]},"entitlement":{"ok":true,"pr'
        'oblems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 re'
        'gions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.403664+00:00","dec'
        'ided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-763b-9509-c69a312371ea","case_id"'
        ':"case-92","severity":{"level":1,"name":"business-critical outage","source":"declared","matched_rule'
        's":[],"declared":1,"note":"No rule matched; the declared severity is accepted as plausible.","classi'
        'fier":null},"language":{"code":"ru","confidence":1.0,"source":"detected","supported":true},"signals"'
        ':[],"evidence":[],"region":"EMEA","sla":{"plan":"premium","target_minutes":30,"clock":"24/7","due_at'
        '":"2026-11-30T23:44:22.405870+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":'
        'null},"routing":{"pool":"premium-247","tier":"L1","respond_in":"ru","open_now":true,"available_at":"'
        '2026-11-30T10:00:00+00:00","urgent":true,"routes":["premium-urgent","first-line"],"priority":"normal'
        '","trace":["region EMEA: RU is in EMEA (Europe, Africa, the Middle East and the CIS)","route premium'
        '-urgent: Premium business-critical and degraded cases go to the 24/7 premium team first.","route fir'
        'st-line: First line - the local pool, then the region, then anyone in the language, then English.","'
        'urgent: severity 1","chosen premium-247 (L1, EMEA): open now, answers in ru"]},"entitlement":{"ok":t'
        'rue,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 poo'
        'ls@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.405870+00:0'
        '0","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-7eec-b4b1-cbdbd7452aca","c'
        'ase_id":"case-100","severity":{"level":1,"name":"business-critical outage","source":"declared","matc'
        'hed_rules":[],"declared":1,"note":"No rule matched; the declared severity is accepted as plausible."'
        ',"classifier":null},"language":{"code":"cs","confidence":1.0,"source":"detected","supported":true},"'
        'signals":[],"evidence":[],"region":"EMEA","sla":{"plan":"advanced","target_minutes":240,"clock":"24/'
        '7","due_at":"2026-12-01T03:14:22.431969+00:00","guaranteed":false,"note":"Plan advanced defines no t'
        "arget for severity 1; no response time is guaranteed. The nearest defined target (severity 2, 240 mi"
        'n) is applied.","at_risk":false,"at_risk_reason":null},"routing":{"pool":"cz-l1","tier":"L1","respon'
        'd_in":"cs","open_now":true,"available_at":"2026-11-30T10:00:00+00:00","urgent":true,"routes":["first'
        '-line"],"priority":"normal","trace":["region EMEA: CZ is in EMEA (Europe, Africa, the Middle East an'
        'd the CIS)","route first-line: First line - the local pool, then the region, then anyone in the lang'
        'uage, then English.","urgent: severity 1","chosen cz-l1 (L1, EMEA): open now, answers in cs"]},"enti'
        'tlement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 '
        'escalation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:1'
        '4:22.431969+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-7559-8637-'
        '02e274242d74","case_id":"case-107","severity":{"level":4,"name":"general advice","source":"declared"'
        ',"matched_rules":[],"declared":4,"note":"No rule matched; the declared severity is accepted as plaus'
        'ible.","classifier":null},"language":{"code":"id","confidence":1.0,"source":"detected","supported":t'
        'rue},"signals":["widespread"],"evidence":[{"signal":"widespread","source":"en","matched":"total"}],"'
        'region":"APAC","sla":{"plan":"premium","target_minutes":1440,"clock":"24/7","due_at":"2026-12-01T23:'
        '14:22.455334+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":null},"routing":{'
        '"pool":"id-l1","tier":"L1","respond_in":"id","open_now":true,"available_at":"2026-11-30T10:00:00+00:'
        '00","urgent":false,"routes":["first-line"],"priority":"normal","trace":["region APAC: ID is in APAC '
        '(Asia and Australia)","route first-line: First line - the local pool, then the region, then anyone i'
        'n the language, then English.","not urgent: severity 4","chosen id-l1 (L1, APAC): open now, answers '
        'in id"]},"entitlement":{"ok":true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents"'
        ':"contracts@1 escalation@1 pools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2'
        '026-11-30T23:14:22.455334+00:00","decided_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a'
        '500-7aa1-b831-0c870b3658bb","case_id":"case-108","severity":{"level":1,"name":"business-critical out'
        'age","source":"declared","matched_rules":[],"declared":1,"note":"No rule matched; the declared sever'
        'ity is accepted as plausible.","classifier":null},"language":{"code":"id","confidence":1.0,"source":'
        '"detected","supported":true},"signals":[],"evidence":[],"region":"APAC","sla":{"plan":"basic","targe'
        't_minutes":720,"clock":"business-hours","due_at":"2026-12-02T12:00:00+01:00","guaranteed":false,"not'
        'e":"Plan basic defines no target for severity 1; no response time is guaranteed. The nearest defined'
        ' target (severity 3, 720 min) is applied.","at_risk":false,"at_risk_reason":null},"routing":{"pool":'
        '"id-l1","tier":"L1","respond_in":"id","open_now":true,"available_at":"2026-11-30T10:00:00+00:00","ur'
        'gent":false,"routes":["first-line"],"priority":"normal","trace":["region APAC: ID is in APAC (Asia a'
        'nd Australia)","route first-line: First line - the local pool, then the region, then anyone in the l'
        'anguage, then English.","not urgent: the basic plan runs on business hours; nothing follows the sun"'
        ',"chosen id-l1 (L1, APAC): open now, answers in id"]},"entitlement":{"ok":true,"problems":[]},"versi'
        'ons":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 regions@1 routing@1 '
        'severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.456305+00:00","decided_at":"2026-11-'
        '30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-7095-ad90-562d643a9483","case_id":"case-113","sever'
        'ity":{"level":2,"name":"production system degraded","source":"rules","matched_rules":[{"id":"degrade'
        'd-service","severity":2,"description":"Important functions fail partly or intermittently; work goes '
        'on, restricted."}],"declared":2,"note":null,"classifier":null},"language":{"code":"pl","confidence":'
        '1.0,"source":"detected","supported":true},"signals":["degraded","production"],"evidence":[{"signal":'
        '"degraded","source":"pl","matched":"co chwile"},{"signal":"production","source":"cs","matched":"prod'
        'ukcji"}],"region":"EMEA","sla":{"plan":"premium","target_minutes":60,"clock":"24/7","due_at":"2026-1'
        '2-01T00:14:22.476128+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":null},"ro'
        'uting":{"pool":"premium-247","tier":"L1","respond_in":"en","open_now":true,"available_at":"2026-11-3'
        '0T10:00:00+00:00","urgent":true,"routes":["premium-urgent","first-line"],"priority":"normal","trace"'
        ':["region EMEA: PL is in EMEA (Europe, Africa, the Middle East and the CIS)","route premium-urgent: '
        'Premium business-critical and degraded cases go to the 24/7 premium team first.","route first-line: '
        'First line - the local pool, then the region, then anyone in the language, then English.","urgent: s'
        'everity 2","chosen premium-247 (L1, EMEA): open now, answers in en"]},"entitlement":{"ok":true,"prob'
        'lems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 regi'
        'ons@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.476128+00:00","decid'
        'ed_at":"2026-11-30T10:00:00+00:00"}{"decision_id":"01a22be5-a500-747c-a691-cac28f050978","case_id":"'
        'case-115","severity":{"level":4,"name":"general advice","source":"declared","matched_rules":[],"decl'
        'ared":4,"note":"No rule matched; the declared severity is accepted as plausible.","classifier":null}'
        ',"language":{"code":"pl","confidence":1.0,"source":"detected","supported":true},"signals":[],"eviden'
        'ce":[],"region":"EMEA","sla":{"plan":"advanced","target_minutes":1440,"clock":"24/7","due_at":"2026-'
        '12-01T23:14:22.486965+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":null},"r'
        'outing":{"pool":"pl-l1","tier":"L1","respond_in":"pl","open_now":true,"available_at":"2026-11-30T10:'
        '00:00+00:00","urgent":false,"routes":["first-line"],"priority":"normal","trace":["region EMEA: PL is'
        ' in EMEA (Europe, Africa, the Middle East and the CIS)","route first-line: First line - the local po'
        'ol, then the region, then anyone in the language, then English.","not urgent: severity 4","chosen pl'
        '-l1 (L1, EMEA): open now, answers in pl"]},"entitlement":{"ok":true,"problems":[]},"versions":{"rule'
        's":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 regions@1 routing@1 severity@1 '
        'signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.486965+00:00","decided_at":"2026-11-30T10:00:00'
        '+00:00"}{"decision_id":"01a22be5-a500-72d2-8ade-cd0cbdef6217","case_id":"case-116","severity":{"leve'
        'l":1,"name":"business-critical outage","source":"declared","matched_rules":[],"declared":1,"note":"N'
        'o rule matched; the declared severity is accepted as plausible.","classifier":null},"language":{"cod'
        'e":"pl","confidence":1.0,"source":"detected","supported":true},"signals":[],"evidence":[],"region":"'
        'EMEA","sla":{"plan":"premium","target_minutes":30,"clock":"24/7","due_at":"2026-11-30T23:44:22.48802'
        '9+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_reason":null},"routing":{"pool":"pre'
        'mium-247","tier":"L1","respond_in":"en","open_now":true,"available_at":"2026-11-30T10:00:00+00:00","'
        'urgent":true,"routes":["premium-urgent","first-line"],"priority":"normal","trace":["region EMEA: PL '
        'is in EMEA (Europe, Africa, the Middle East and the CIS)","route premium-urgent: Premium business-cr'
        'itical and degraded cases go to the 24/7 premium team first.","route first-line: First line - the lo'
        'cal pool, then the region, then anyone in the language, then English.","urgent: severity 1","chosen '
        'premium-247 (L1, EMEA): open now, answers in en"]},"entitlement":{"ok":true,"problems":[]},"versions'
        '":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 pools@1 regions@1 routing@1 sev'
        'erity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:22.488029+00:00","decided_at":"2026-11-30T'
        '10:00:00+00:00"}{"decision_id":"01a22be5-a500-72c2-adbe-fe326a2604fd","case_id":"case-253","severity'
        '":{"level":4,"name":"general advice","source":"rules","matched_rules":[{"id":"advice","severity":4,"'
        'description":"A question, how-to or feature request, with no sign of a malfunction."}],"declared":nu'
        'll,"note":null,"classifier":null},"language":{"code":"nb","confidence":0.841,"source":"detected","su'
        'pported":false},"signals":["feature_request"],"evidence":[{"signal":"feature_request","source":"da",'
        '"matched":"forslag"}],"region":"EMEA","sla":{"plan":"advanced","target_minutes":1440,"clock":"24/7",'
        '"due_at":"2026-12-01T23:14:23.063225+00:00","guaranteed":true,"note":null,"at_risk":false,"at_risk_r'
        'eason":null},"routing":{"pool":"triage-desk","tier":"L1","respond_in":"en","open_now":true,"availabl'
        'e_at":"2026-11-30T10:00:00+00:00","urgent":false,"routes":["unread-language","first-line"],"priority'
        '":"normal","trace":["region EMEA: DK is in EMEA (Europe, Africa, the Middle East and the CIS)","rout'
        "e unread-language: The text is in a language no vocabulary covers and nothing made it urgent - a per"
        'son reads it (human triage) before it waits as a default 3; then the usual first line.","route first'
        '-line: First line - the local pool, then the region, then anyone in the language, then English.","no'
        't urgent: severity 4","chosen triage-desk (L1, EMEA): open now, answers in en"]},"entitlement":{"ok"'
        ':true,"problems":[]},"versions":{"rules":"56612e235c1a","rule_documents":"contracts@1 escalation@1 p'
        'ools@1 regions@1 routing@1 severity@1 signals@1 sla@1"},"reported_at":"2026-11-30T23:14:23.063225+00'
        ':00","decided_at":"2026-11-30T10:00:00+00:00"}',
    )
).encode()


def pack(answer: dict) -> bytes:
    """The stored form of an answer."""
    text = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY_1)
    return FORMAT + deflate.compress(text) + deflate.flush()


def unpack(stored: bytes) -> dict:
    """The answer a stored form holds."""
    if stored[:1] != FORMAT:
        raise ValueError(f"unknown stored answer format {stored[:1]!r}")
    inflate = zlib.decompressobj(-15, DICTIONARY_1)
    return json.loads(inflate.decompress(stored[1:]) + inflate.flush())


HEAD, TAIL = ("decision_id", "case_id"), ("reported_at", "decided_at")
LEAN = "@"  # marks a stored answer whose HEAD and TAIL are its row's columns


def iso(instant) -> str:
    """An instant as its row gives it back: ISO 8601 in UTC (a naive one is UTC already)."""
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    return (instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)).isoformat()


def lean(answer: dict, decision_id: str, case_id: str | None, reported_at, decided_at) -> dict:
    """The answer to store beside its row: without the id, the case id and the two instants when they
    are exactly the row's (as every answer the service gives has them), so they are not kept twice;
    any other answer is kept whole."""
    keys = list(answer)
    if (
        LEAN not in answer
        and tuple(keys[:2]) == HEAD
        and tuple(keys[-2:]) == TAIL
        and answer["decision_id"] == decision_id
        and answer["case_id"] == case_id
        and answer["reported_at"] == iso(reported_at)
        and answer["decided_at"] == iso(decided_at)
    ):
        return {**{key: answer[key] for key in keys[2:-2]}, LEAN: 1}
    return answer


def whole(stored: dict, decision_id: str, case_id: str | None, reported_at, decided_at) -> dict:
    """The answer as it was given, from its stored form and its row (the inverse of lean)."""
    if stored.get(LEAN) != 1:
        return stored
    rest = {key: value for key, value in stored.items() if key != LEAN}
    return {
        "decision_id": decision_id,
        "case_id": case_id,
        **rest,
        "reported_at": iso(reported_at),
        "decided_at": iso(decided_at),
    }


class PackedJson(sa.types.TypeDecorator):
    """A JSON document (a dict) stored packed (see pack) as bytes, on SQLite and PostgreSQL alike."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else pack(value)

    def process_result_value(self, value, dialect):
        return None if value is None else unpack(bytes(value))
