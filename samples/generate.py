#!/usr/bin/env python3
"""Generate leadscore's bundled sample calls (samples/calls/) from the scripts below.

The business is a fictional solar installer, Brightline Solar; every person, company and
number is invented (phone numbers use the 555-01XX range reserved for fiction). Each call is
rendered in one of the transcript formats people actually have (plain `Speaker: text`,
WebVTT, SRT, Amazon Transcribe JSON with speaker labels or with channel identification),
with call metadata in a sidecar `<stem>.meta.json` or, for some, in the file name alone.

Run from the repository root:  python3 samples/generate.py
The output is deterministic; commit it with this script.
"""
import json
import os
import random
import shutil
from datetime import datetime, timedelta, timezone

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calls")
BUSINESS_LINE = "+14155550100"
WPS = 2.6  # words per second of speech

# (key, first, last, company, phone, utc offset of the caller's area in November)
CALLERS = {
    "dana": ("Dana", "Whitfield", "Whitfield Dental", "+14155550134", -8),
    "marcus": ("Marcus", "Lee", None, "+15125550147", -6),
    "priya": ("Priya", "Raman", "Raman Logistics", "+13035550182", -7),
    "carlos": ("Carlos", "Mendoza", None, "+16025550119", -7),
    "grace": ("Grace", "Kim", None, "+12065550163", -8),
    "tom": ("Tom", "Becker", "Becker Family Farms", "+19195550108", -5),
    "aisha": ("Aisha", "Johnson", None, "+13055550171", -5),
    "robert": ("Robert", "Chen", None, "+16175550125", -5),
    "emily": ("Emily", "Novak", None, "+17025550156", -8),
    "james": ("James", "O'Connor", "Harbor View Apartments", "+12125550190", -5),
    "sofia": ("Sofia", "Rossi", None, "+14165550199", -5),
    "hannah": ("Hannah", "Schmidt", None, "+442079460958", 0),
    "derek": ("Derek", "Thompson", None, "+14805550133", -7),
    "linda": ("Linda", "Park", None, "+12135550144", -8),
    "kevin": ("Kevin", "Walsh", None, "+17735550112", -6),
    "robo": (None, None, None, "+18885550142", -5),
    "wrong": (None, None, None, "+16465550177", -5),
    "brian": ("Brian", "Foster", None, "+14045550129", -5),
    "megan": ("Megan", "Clark", None, "+16155550150", -6),
    "olivia": ("Olivia", "Martinez", None, "+12105550166", -6),
    "nathan": ("Nathan", "Brooks", None, "+18015550138", -7),
    "rachel": ("Rachel", "Green", None, "+15035550141", -8),
    "ben": ("Ben", "Carter", "Carter EV Rentals", "+17205550193", -7),
}

A, C = "agent", "customer"

# Each call: (caller, local start "2026-11-DD HH:MM", direction, agent, format, metadata, turns)
# format: txt | vtt | srt | aws-speakers | aws-channels; metadata: sidecar | filename
CALLS = [
    ("dana", "2026-11-03 10:12", "inbound", "Maya", "vtt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya. How can I help you today?"),
        (C, "Hi Maya, this is Dana Whitfield. I own a dental practice in the Mission and our electric bill has gotten ridiculous."),
        (A, "I hear that a lot. Is the building yours, and roughly how big is the roof?"),
        (C, "Yes, I'm the owner of the building. It's a flat roof, maybe four thousand square feet."),
        (A, "That's a great candidate for a commercial system."),
        (C, "How much would something like that cost? I'd like a ballpark quote before I talk to my accountant."),
        (A, "Most offices your size land between sixty and ninety thousand before the tax credit. I can get you a firm number after a site visit."),
        (C, "That sounds reasonable. We want it done before the end of the year if possible."),
        (A, "Perfect. I'll email you some times for the visit."),
        (C, "Great, thank you so much."),
    ]),
    ("dana", "2026-11-05 14:40", "inbound", "Maya", "aws-speakers", "sidecar", [
        (A, "Brightline Solar, this is Maya speaking."),
        (C, "Hi Maya, Dana Whitfield again. I got your email. Can we schedule the site visit for Friday morning?"),
        (A, "Friday at nine works. Our engineer will take about an hour."),
        (C, "Wonderful. My accountant said the budget is approved as long as it stays under ninety thousand."),
        (A, "Good to know. We'll design to that number."),
        (C, "I'm excited about this. Honestly we're ready to move forward if the numbers hold up."),
        (A, "Great, see you Friday."),
    ]),
    ("marcus", "2026-11-04 09:30", "inbound", "Maya", "txt", "filename", [
        (A, "Thank you for calling Brightline Solar, this is Maya."),
        (C, "Hey, yeah, I'm looking at solar for my house in Austin. What are your prices like for a typical home?"),
        (A, "For a typical home we see eighteen to twenty six thousand before incentives. Do you own the home?"),
        (C, "We do. My wife and I would want it installed before summer, the AC bills kill us."),
        (A, "Totally understandable. Are you thinking cash or financing?"),
        (C, "Probably financing. Do you have a payment plan?"),
        (A, "We do, with no money down options."),
        (C, "Good. Can you give me a call back tomorrow after I talk to her?"),
        (A, "Absolutely, I'll call you tomorrow afternoon."),
    ]),
    ("marcus", "2026-11-05 16:05", "outbound", "Maya", "srt", "sidecar", [
        (C, "Hello?"),
        (A, "Hi Marcus, it's Maya from Brightline Solar calling you back as promised."),
        (C, "Oh great, thanks. So we talked and we want to get started. Can someone come out for a consultation next week?"),
        (A, "Yes, I have Tuesday or Wednesday."),
        (C, "Tuesday is perfect. We've set aside about twenty thousand, with financing for the rest."),
        (A, "That works well. I'll book Tuesday at ten."),
        (C, "Awesome, really appreciate it."),
    ]),
    ("priya", "2026-11-06 11:15", "inbound", "Jordan", "aws-channels", "sidecar", [
        (A, "Thanks for calling Brightline Solar, my name is Jordan. What can I do for you?"),
        (C, "Hi Jordan, Priya Raman from Raman Logistics. We run a warehouse in Commerce City and we're serious about solar this quarter."),
        (A, "Wonderful. Do you know your annual usage?"),
        (C, "About six hundred megawatt hours. I make the decision on facilities spending and the budget is approved."),
        (A, "That's a substantial system. We'd want to do a site visit and a load study."),
        (C, "Let's do it. Can you send a proposal and a quote by next week? We're getting other quotes too."),
        (A, "Yes, I'll have it to you by Wednesday."),
        (C, "Perfect, thanks Jordan."),
    ]),
    ("priya", "2026-11-13 10:02", "inbound", "Jordan", "vtt", "sidecar", [
        (A, "Brightline Solar, this is Jordan."),
        (C, "Jordan, Priya again. Your proposal was the best of the three we got."),
        (A, "That's great to hear."),
        (C, "We're ready to sign the contract. What do you need from us to get started?"),
        (A, "I'll send the contract today, and we can schedule the engineering visit for next week."),
        (C, "Excellent. Let's book the visit for Monday."),
    ]),
    ("carlos", "2026-11-07 13:20", "inbound", "Maya", "txt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "Hi, Carlos Mendoza. We keep losing power in the monsoon storms and I want solar with a battery backup."),
        (A, "Batteries are a great fit for that. Do you own the home?"),
        (C, "Yes. How much does a system with a battery cost?"),
        (A, "Usually thirty to forty thousand before the credit, depending on the battery size."),
        (C, "Okay. Can someone come out this week and look at the roof?"),
        (A, "I can book Thursday afternoon."),
        (C, "Thursday works. Thanks, that's really helpful."),
    ]),
    ("carlos", "2026-11-10 08:45", "inbound", "Maya", "srt", "filename", [
        (A, "Brightline Solar, this is Maya."),
        (C, "Hi Maya, Carlos Mendoza. The site visit went well. I'd like to go ahead with the bigger battery."),
        (A, "Great choice. I'll update the proposal."),
        (C, "Perfect, send it over and I'll sign."),
    ]),
    ("grace", "2026-11-05 15:30", "outbound", "Jordan", "vtt", "sidecar", [
        (C, "Hello, this is Grace."),
        (A, "Hi Grace, this is Jordan calling from Brightline Solar. You requested information on our website."),
        (C, "Oh yes, I did. I'm interested but I have a lot of questions."),
        (A, "Happy to answer them. What's on your mind?"),
        (C, "How long does installation take, and what happens when it's cloudy? It's Seattle after all."),
        (A, "Install takes two days. Panels still produce on cloudy days, and net metering covers the rest."),
        (C, "That's good to know. Send me the details and I'll look them over."),
    ]),
    ("grace", "2026-11-12 12:10", "outbound", "Jordan", "aws-speakers", "sidecar", [
        (C, "Hi Jordan."),
        (A, "Hi Grace, it's Jordan from Brightline Solar following up on the details I sent."),
        (C, "Thanks for following up. I read everything and I'm ready to move forward."),
        (A, "Wonderful. Shall we schedule the site visit?"),
        (C, "Yes, next week works. My husband and I both agree, it's our decision and we're set."),
        (A, "Great, I'll send a calendar invite."),
    ]),
    ("tom", "2026-11-09 07:50", "inbound", "Maya", "txt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "Morning. Tom Becker, Becker Family Farms. I've got three barns and irrigation pumps running all summer."),
        (A, "Farms are one of our favorite projects. Have you looked at the agricultural grants?"),
        (C, "I have, and we've got financing lined up through the co-op. It's my call, I own the farm."),
        (A, "Then we can move fast. What timeline are you thinking?"),
        (C, "Installed before spring planting. What would a quote for a ground mount look like?"),
        (A, "I'd estimate around one hundred twenty thousand, less the grant. I can come out next week to measure."),
        (C, "Good. Let's schedule that."),
    ]),
    ("tom", "2026-11-16 08:05", "outbound", "Maya", "aws-channels", "sidecar", [
        (C, "Becker farms, Tom speaking."),
        (A, "Hi Tom, it's Maya from Brightline Solar with the ground mount quote."),
        (C, "Great. I looked at the numbers. Let's go ahead."),
        (A, "Fantastic. I'll send the contract this afternoon."),
    ]),
    ("aisha", "2026-11-04 18:20", "inbound", "Jordan", "vtt", "sidecar", [
        (A, "Thank you for calling Brightline Solar, this is Jordan."),
        (C, "Hi, I'm Aisha. I'm just starting to look into solar. What does it usually cost?"),
        (A, "For most homes around here eighteen to twenty five thousand before incentives."),
        (C, "Okay. I need to talk to my husband before we decide anything."),
        (A, "Of course. Would you like me to send you some information?"),
        (C, "Yes please. Maybe call me back next week."),
    ]),
    ("aisha", "2026-11-11 17:45", "outbound", "Jordan", "txt", "sidecar", [
        (C, "Hello?"),
        (A, "Hi Aisha, this is Jordan from Brightline Solar following up."),
        (C, "Hi. We're still thinking about it. It's a big decision."),
        (A, "Totally fair. Any questions I can answer?"),
        (C, "Not right now. Maybe after the holidays."),
    ]),
    ("robert", "2026-11-06 12:30", "inbound", "Maya", "srt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "Hi, Robert Chen. I have two other quotes already and I want to compare."),
        (A, "Sure. What system size were they quoting?"),
        (C, "About seven kilowatts. One was twenty two thousand. Honestly that seems a bit expensive."),
        (A, "We can usually beat that with our panel pricing."),
        (C, "Okay, send me a quote and I'll compare."),
    ]),
    ("robert", "2026-11-14 09:55", "inbound", "Maya", "vtt", "filename", [
        (A, "Brightline Solar, this is Maya."),
        (C, "Robert Chen again. Your quote was good but I'm still comparing with another company."),
        (A, "Understood. Is there anything that would help you decide?"),
        (C, "If you can match their warranty I'd probably go with you."),
        (A, "I'll check with my manager and get back to you."),
    ]),
    ("emily", "2026-11-08 10:40", "inbound", "Jordan", "txt", "filename", [
        (A, "Thanks for calling Brightline Solar, this is Jordan."),
        (C, "Hi, I'm Emily. I'm just gathering information. How do the tax credits work?"),
        (A, "The federal credit covers thirty percent of the system cost."),
        (C, "And does it matter which way my roof faces?"),
        (A, "South and west are best, but east works too."),
        (C, "Okay, thanks. I'll think about it."),
    ]),
    ("emily", "2026-11-18 11:20", "inbound", "Jordan", "aws-speakers", "sidecar", [
        (A, "Brightline Solar, Jordan speaking."),
        (C, "Hi, Emily Novak, I called last week. I'm interested in getting an estimate now."),
        (A, "Great. I can set up a time for a quick consultation."),
        (C, "Sure, sometime next month would be good."),
    ]),
    ("james", "2026-11-10 14:00", "inbound", "Maya", "aws-channels", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "Hi Maya, James O'Connor, property manager at Harbor View Apartments. The board asked me to look into solar for the building."),
        (A, "Great. How many units?"),
        (C, "Forty eight. I'd need a proposal with pricing to present at the board meeting."),
        (A, "We can do that. When is the meeting?"),
        (C, "December tenth. The board makes the final decision, not me."),
        (A, "Understood, I'll get you the proposal before then."),
    ]),
    ("james", "2026-11-19 15:15", "outbound", "Maya", "txt", "sidecar", [
        (C, "James speaking."),
        (A, "Hi James, Maya from Brightline Solar. Did the proposal arrive?"),
        (C, "It did, thanks. It looks good. I'll present it on the tenth and give you a call back after."),
    ]),
    ("sofia", "2026-11-12 13:30", "inbound", "Jordan", "srt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Jordan."),
        (C, "Hi, this is Sofia calling from Toronto. Do you install in Ontario?"),
        (A, "We're expanding there next spring, actually."),
        (C, "Oh nice. I'm interested, what would pricing look like?"),
        (A, "Similar to here. I can put you on the list for a quote in the spring."),
        (C, "Please do, thanks."),
    ]),
    ("sofia", "2026-11-20 10:10", "outbound", "Jordan", "vtt", "sidecar", [
        (C, "Hello?"),
        (A, "Hi Sofia, Jordan from Brightline Solar. Just confirming you're on our spring list."),
        (C, "Great, thank you. Sounds good."),
    ]),
    ("hannah", "2026-11-09 16:00", "inbound", "Maya", "txt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "Hello, this is Hannah ringing from London. My parents have a house in Sonoma and asked me to find out about solar."),
        (A, "Happy to help. Are they the owners?"),
        (C, "Yes. They'd want someone to explain it to them directly though. Could you call them?"),
        (A, "Of course, send me their number."),
    ]),
    ("derek", "2026-11-03 11:00", "outbound", "Jordan", "txt", "sidecar", [
        (C, "Hi, you've reached Derek. I'm not available to take your call, please leave a message after the tone."),
        (A, "Hi Derek, Jordan from Brightline Solar returning your web inquiry. Give me a call back when you can."),
    ]),
    ("derek", "2026-11-04 12:25", "inbound", "Jordan", "aws-speakers", "sidecar", [
        (A, "Brightline Solar, this is Jordan."),
        (C, "Hey Jordan, Derek Thompson, you left me a message. What's the price for a system on a three bedroom house?"),
        (A, "Usually around twenty thousand before incentives."),
        (C, "Okay. That's about what I figured."),
    ]),
    ("derek", "2026-11-06 12:40", "inbound", "Jordan", "vtt", "filename", [
        (A, "Brightline Solar, Jordan speaking."),
        (C, "Derek again. Do you have financing? If so I think we want to get started this month."),
        (A, "We do, zero down with a fixed rate."),
        (C, "Great, let's set up a time for the site visit."),
    ]),
    ("linda", "2026-11-05 19:10", "inbound", "Maya", "srt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "Hi. My neighbor got panels from you and I was just curious what he paid. I'm not really interested myself."),
        (A, "I can't share his details, but I can tell you our typical ranges."),
        (C, "No, that's okay. I was just curious."),
    ]),
    ("linda", "2026-11-17 18:30", "outbound", "Maya", "txt", "sidecar", [
        (C, "Hello?"),
        (A, "Hi Linda, Maya from Brightline Solar. I wanted to see if you had any questions."),
        (C, "No thanks. Like I said, I'm not interested."),
    ]),
    ("kevin", "2026-11-08 15:45", "inbound", "Jordan", "txt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Jordan."),
        (C, "Hi, I'm renting an apartment and wondered if I could get solar."),
        (A, "Usually the building owner would need to approve it."),
        (C, "Yeah, I figured. And honestly it sounds too expensive for me anyway."),
        (A, "Community solar might be an option for you."),
        (C, "Maybe. Thanks."),
    ]),
    ("robo", "2026-11-04 10:00", "inbound", "Maya", "txt", "filename", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "This is an automated message about your car's extended warranty. Press one to speak to an agent."),
    ]),
    ("robo", "2026-11-11 10:02", "inbound", "Maya", "vtt", "filename", [
        (A, "Brightline Solar, this is Maya."),
        (C, "Congratulations, you've been selected for a free cruise. Press one now to claim your prize."),
    ]),
    ("wrong", "2026-11-07 09:15", "inbound", "Jordan", "srt", "filename", [
        (A, "Thanks for calling Brightline Solar, this is Jordan."),
        (C, "Oh, is this not Dr. Patel's office?"),
        (A, "No, this is a solar company."),
        (C, "Sorry, wrong number."),
    ]),
    ("brian", "2026-11-05 17:50", "outbound", "Jordan", "txt", "sidecar", [
        (C, "Yeah?"),
        (A, "Hi, is this Brian? This is Jordan calling from Brightline Solar."),
        (C, "I didn't ask for this. Stop calling me and take me off your list."),
        (A, "I'm sorry about that, I'll remove your number."),
    ]),
    ("brian", "2026-11-12 17:55", "outbound", "Jordan", "aws-channels", "sidecar", [
        (C, "This is ridiculous. I told you people to stop calling me."),
        (A, "I apologize, I'll make sure you're removed right away."),
    ]),
    ("megan", "2026-11-10 12:15", "outbound", "Maya", "vtt", "sidecar", [
        (C, "Hello, Megan speaking."),
        (A, "Hi Megan, this is Maya from Brightline Solar. Do you have a minute to talk about solar for your home?"),
        (C, "Not a good time, sorry. No thanks."),
    ]),
    ("olivia", "2026-11-03 09:40", "inbound", "Maya", "txt", "sidecar", [
        (A, "Thanks for calling Brightline Solar, this is Maya."),
        (C, "Hi, Olivia Martinez. You installed my system last year and the inverter is showing an error. I'm really frustrated, it's been down for days."),
        (A, "I'm so sorry. Let me pull up your account."),
        (C, "I've lost almost a week of production. This is a real problem."),
        (A, "I can have a technician out tomorrow morning, at no charge."),
        (C, "Okay, that would be a relief."),
    ]),
    ("olivia", "2026-11-04 16:20", "inbound", "Maya", "srt", "sidecar", [
        (A, "Brightline Solar, this is Maya."),
        (C, "Hi Maya, it's Olivia. The technician fixed the inverter this morning. He was wonderful, thank you so much."),
        (A, "I'm so glad to hear it."),
        (C, "Actually, while I have you, how much would it cost to add a battery?"),
        (A, "Around twelve thousand installed. I can send you a quote."),
        (C, "Please do, I'd love to see it."),
    ]),
    ("nathan", "2026-11-13 14:30", "inbound", "Jordan", "txt", "filename", [
        (A, "Thanks for calling Brightline Solar, this is Jordan."),
        (C, "Hi, I'm a student writing a paper on residential solar adoption. Could I ask a few questions?"),
        (A, "Sure, go ahead."),
        (C, "How many installs do you do a year, and what's the most common system size?"),
        (A, "A few hundred, mostly six to eight kilowatts."),
        (C, "Thanks, that's helpful for my research."),
    ]),
    ("rachel", "2026-11-14 11:30", "outbound", "Maya", "txt", "sidecar", [
        (C, "You've reached Rachel Green. Please leave a message after the beep."),
        (A, "Hi Rachel, Maya from Brightline Solar returning your request for information. Call us back any time."),
    ]),
    ("rachel", "2026-11-19 11:35", "outbound", "Maya", "vtt", "sidecar", [
        (C, "You've reached Rachel Green. Please leave a message after the beep."),
        (A, "Hi Rachel, Maya again from Brightline Solar, just trying you one more time."),
    ]),
    ("ben", "2026-11-17 10:20", "inbound", "Jordan", "aws-speakers", "sidecar", [
        (A, "Thanks for calling Brightline Solar, my name is Jordan."),
        (C, "Hi Jordan, Ben Carter with Carter EV Rentals. We charge twenty electric vans overnight and need solar with chargers."),
        (A, "That's a great use case. Do you own the lot?"),
        (C, "We do, and I'm the owner so it's my decision. What would pricing look like for carport panels?"),
        (A, "For a carport that size, roughly two hundred thousand before incentives."),
        (C, "That fits our budget. We want it running by next month if we can."),
        (A, "Then let's get a site visit on the calendar."),
        (C, "Yes, let's schedule it for this week."),
    ]),
    ("ben", "2026-11-20 09:00", "inbound", "Jordan", "txt", "sidecar", [
        (A, "Brightline Solar, this is Jordan."),
        (C, "Ben Carter again. The visit went great. We're ready to buy, send the contract over."),
        (A, "Will do, today."),
    ]),
]


def speaker_name(caller, role, agent, fmt, index):
    first = CALLERS[caller][0]
    if role == A:
        return agent if index % 2 == 0 else "Agent"
    return first if (first and index % 2 == 0) else "Caller"


def timeline(turns, rng):
    """(role, text, start, end) with speech at WPS words a second and short pauses."""
    t = round(rng.uniform(0.4, 1.5), 2)
    out = []
    for role, text in turns:
        words = len(text.split())
        start = t
        end = round(start + words / WPS, 2)
        out.append((role, text, start, end))
        t = round(end + rng.uniform(0.3, 1.1), 2)
    return out


def clock(sec, sep):
    h = int(sec // 3600)
    m = int(sec % 3600 // 60)
    s = sec - h * 3600 - m * 60
    return f"{h:02}:{m:02}:{s:06.3f}".replace(".", sep)


def words_of(text, start, end):
    """Amazon Transcribe items for one turn: pronunciations with times, punctuation after."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    items = []
    for i, tok in enumerate(tokens):
        core = tok.rstrip(".,?!")
        punct = tok[len(core):]
        ws, we = round(start + i * step, 2), round(start + (i + 1) * step - 0.03, 2)
        items.append({"start_time": f"{ws}", "end_time": f"{we}", "alternatives": [{"confidence": "0.9" + str((i * 7) % 10), "content": core}], "type": "pronunciation"})
        for p in punct:
            items.append({"alternatives": [{"confidence": "0.0", "content": p}], "type": "punctuation"})
    return items


def render(caller, agent, fmt, spoken, job_name):
    names = [speaker_name(caller, role, agent, fmt, 0) for role, *_ in spoken]
    if fmt == "txt":
        return "".join(f"{n}: {text}\n" for n, (role, text, s, e) in zip(names, spoken))
    if fmt == "vtt":
        cues = [f"{i + 1}\n{clock(s, '.')} --> {clock(e, '.')}\n<v {n}>{text}\n" for i, (n, (role, text, s, e)) in enumerate(zip(names, spoken))]
        return "WEBVTT\n\n" + "\n".join(cues)
    if fmt == "srt":
        blocks = [f"{i + 1}\n{clock(s, ',')} --> {clock(e, ',')}\n{n}: {text}\n" for i, (n, (role, text, s, e)) in enumerate(zip(names, spoken))]
        return "\n".join(blocks)
    transcript = " ".join(text for _, text, _, _ in spoken)
    if fmt == "aws-speakers":
        # The first voice on the recording is spk_0, whoever it is.
        order = []
        for role, *_ in spoken:
            if role not in order:
                order.append(role)
        label = {role: f"spk_{order.index(role)}" for role in order}
        items, segments = [], []
        for role, text, s, e in spoken:
            turn = words_of(text, s, e)
            for it in turn:
                if it["type"] == "pronunciation":
                    it["speaker_label"] = label[role]
            items.extend(turn)
            segments.append({"start_time": f"{s}", "end_time": f"{e}", "speaker_label": label[role],
                             "items": [{"start_time": it["start_time"], "end_time": it["end_time"], "speaker_label": label[role]} for it in turn if it["type"] == "pronunciation"]})
        results = {"transcripts": [{"transcript": transcript}], "speaker_labels": {"speakers": len(order), "segments": segments}, "items": items}
        return json.dumps({"jobName": job_name, "accountId": "111122223333", "status": "COMPLETED", "results": results}, separators=(",", ":")) + "\n"
    # aws-channels: the agent's line is ch_0, the customer's ch_1.
    channels = {A: [], C: []}
    items = []
    for role, text, s, e in spoken:
        ch = "ch_0" if role == A else "ch_1"
        turn = words_of(text, s, e)
        for it in turn:
            it["channel_label"] = ch
        channels[role].extend(turn)
        items.extend(turn)
    results = {"transcripts": [{"transcript": transcript}],
               "channel_labels": {"channels": [{"channel_label": "ch_0", "items": channels[A]}, {"channel_label": "ch_1", "items": channels[C]}], "number_of_channels": 2},
               "items": items}
    return json.dumps({"jobName": job_name, "accountId": "111122223333", "status": "COMPLETED", "results": results}, separators=(",", ":")) + "\n"


def main():
    rng = random.Random(20261123)
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for n, (caller, local, direction, agent, fmt, meta, turns) in enumerate(CALLS, start=1):
        first, last, company, phone, offset = CALLERS[caller]
        started = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=timezone(timedelta(hours=offset)))
        started_utc = started.astimezone(timezone.utc)
        spoken = timeline(turns, rng)
        duration = round(spoken[-1][3] + rng.uniform(2, 9), 1)
        ext = {"txt": "txt", "vtt": "vtt", "srt": "srt"}.get(fmt, "json")
        caller_no, callee_no = (phone, BUSINESS_LINE) if direction == "inbound" else (BUSINESS_LINE, phone)
        if meta == "filename":
            stem = f"{started_utc:%Y%m%dT%H%M%SZ}_{caller_no}_{callee_no}_{direction}"
        else:
            stem = f"call-{n:03}"
        with open(os.path.join(OUT, f"{stem}.{ext}"), "w") as f:
            f.write(render(caller, agent, fmt, spoken, stem))
        if meta == "sidecar":
            side = {"caller": caller_no, "callee": callee_no, "started_at": started.isoformat(),
                    "direction": direction, "duration_seconds": duration, "external_id": f"CA{n:04}BRIGHTLINE"}
            if first:
                side["caller_name"] = f"{first} {last}"
            if company:
                side["company"] = company
            if fmt == "aws-channels":
                side["agent_speaker"] = "ch_0"
            side["agent"] = agent
            with open(os.path.join(OUT, f"{stem}.meta.json"), "w") as f:
                json.dump(side, f, indent=2)
                f.write("\n")
    print(f"wrote {len(CALLS)} calls from {len({c[0] for c in CALLS})} callers to {OUT}")


if __name__ == "__main__":
    main()
