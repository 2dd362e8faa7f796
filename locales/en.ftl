# trustline pages: English (en). Project Fluent syntax; every message exists in every
# language (tested: src/http/i18n.rs).

app = trustline
console = Compliance console
privacy = Privacy centre
logout = Sign out
signed_out = You are signed out.
not_signed_in = You are not signed in, or your session has expired.
forbidden = You may not open this page.
csrf = This form has expired or did not come from this site. Reload the page and try again.
login_failed = Sign-in failed. Start again from the sign-in page.
not_found = Not found.
error = Something went wrong on our side. Try again later.
bad_request = The request is not valid.
link_invalid = This link is invalid, expired or already used. Ask for a new one.
signed_in_as = Signed in as
roles = Roles
customer = Customer
tenant = Tenant
templates = Biometric profiles
templates_none = No biometric profile is stored for you.
modality = Profile
voice = Voiceprint
keystroke_fixed = Typing rhythm (fixed text)
keystroke_free = Typing rhythm (free text)
enrolled = Enrolled
last_used = Last used
never = never
model = Model
delete_profiles = Delete my biometric profiles
delete_explain = Deleting destroys the key that encrypts every profile listed above, so none of them can ever be read again, including from backups.
deleted = Your biometric profiles were deleted: the key that encrypted them is destroyed.
deleted_count = Profiles destroyed
methods = How you are recognised
methods_explain = Choose the ways we may recognise you when you contact us. A one-time code is always available.
voiceprint = By my voice
typing = By my typing rhythm
code_only = Only with a one-time code, never biometrics
save = Save
download = Download all my data (JSON)
consents = Your consents
purpose = Purpose
status = Status
granted = Granted
withdrawn = Withdrawn
not_granted = Not given
grant = Give consent
withdraw = Withdraw
notice = Notice
expires = Expires
events = Audit events
search = Search
export_csv = Export CSV
export_jsonl = Export JSON Lines
from = From
to = To
kind = Kind
channel = Channel
outcome = Outcome
agent = Agent
time = Time
index = Index
next_page = Next page
no_results = No events match.
log = Log integrity
verify = Verify the log now
tree_heads = Signed tree heads
receipt = Receipt
policies = Policies in force
models = Models and thresholds
thresholds = Thresholds
policy_history = Every version loaded (decisions name one by its SHA-256)
first_loaded = First loaded
last_loaded = Last loaded
text = Text
show = Show
calibration = Calibration: DET curves of the shipped models
version = Version
task = Task
source = Source
reference = Verified against
link_camera_title = Video in your conversation
link_camera_explain = The agent you are talking to asks whether, and how, video may be used in this conversation. You decide on the next page.
link_privacy_title = Your privacy centre
link_privacy_explain = This link opens your privacy centre: your consents, your biometric profiles and your data.
link_code_explain = To make sure it is you, type the code the agent reads out to you.
code_label = Code from the agent
continue = Continue
wrong_code = That code is not right.
link_expired = This link has expired. Ask the agent for a new one.
link_used = This link was already used. Ask the agent for a new one.
link_locked = This link is locked after too many wrong codes. Ask the agent for a new one.
link_other_device = This page belongs to the device that opened the link.
session_over = This conversation has ended, so nothing can be changed here any more.
choice_not_offered = That choice is not offered. Nothing was changed.
camera_title = Video in this conversation
camera_now = Now
camera_not_decided = Not decided yet: the camera stays off
camera_options = Options
mode_audio_only = Camera off (audio only)
mode_one_way = I see the agent (my camera off)
mode_two_way = Video both ways
opt_blur = Blur my background
opt_recording = Recording
opt_recording_allow = Allow the video to be recorded
days = days
yes = yes
no = no
camera_change_explain = You can change or withdraw your choice here at any time with one tap; it takes effect at once.
agent_title = Session: what the customer allowed
session_id = Session
agent_allowed = Allowed by the customer (live)
agent_links = Links sent to the customer
agent_no_links = No link was sent in this session.
agent_code = Code to read out
agent_code_explain = Read the code out to the customer only in this conversation. It works once, with the link sent to them.
language = Language
brand_title = Brand on customer pages
brand_explain = The name, colours and logo customers see on the camera page, the link page and the privacy centre. Colours must stay readable (WCAG contrast 4.5:1); logos are PNG or SVG up to 100 KB.
brand_name = Display name
brand_primary = Primary colour (buttons, white text on it)
brand_accent = Accent colour (text and links on white)
brand_logo = Logo (PNG or SVG)
brand_remove_logo = Remove the logo
brand_saved = The brand was saved.
brand_invalid = The brand was not saved
brand_preview = Preview
brand_nav = Brand
brand_change = Change the brand
brand_sample_button = Continue
brand_changed = Last changed
brand_admin_only = Only a tenant admin can change the brand.
tenant_admin_only = Only a tenant admin may change this.
month_1 = January
month_2 = February
month_3 = March
month_4 = April
month_5 = May
month_6 = June
month_7 = July
month_8 = August
month_9 = September
month_10 = October
month_11 = November
month_12 = December

## Passkeys (privacy centre and the step-up approval page)

passkeys = Passkeys
passkeys_explain = A passkey lets you approve a sign-in on your own phone with its screen lock (fingerprint, face or PIN). The key stays on your device; we keep only its public half.
passkeys_none = You have no passkey yet.
passkey_name = Name (optional)
passkey_add = Add a passkey
passkey_check = Check my passkey
passkey_remove = Remove
passkey_registered = Your passkey was added.
passkey_verified = Your passkey works.
passkey_failed = That did not work. Nothing was changed.
passkey_unsupported = This browser does not support passkeys.
passkey_needs_script = Passkeys need JavaScript in this browser.
passkey_approve_title = Approve with your passkey
passkey_approve_explain = You are talking to us right now, and we ask you to confirm it is you. Check that the code below is the one you hear, then approve with your passkey (your screen lock).
passkey_binding_code = Code
passkey_approve = Approve with passkey
passkey_approved = Approved. You can return to the conversation.

## Consent purposes, as the privacy centre names them

purpose_camera = Camera during this conversation
purpose_recording = Recording this conversation
purpose_recording_reuse = Reusing recordings after the conversation
purpose_voiceprint_enrolment = Recognising you by your voice
purpose_keystroke_enrolment = Recognising you by how you type

## Links as the agent page lists them

link_purpose_camera = Camera consent
link_purpose_passkey = Passkey approval
link_status_pending = Sent
link_status_opened = Opened
link_status_redeemed = Used
link_status_locked = Locked
link_status_expired = Expired

## Consents that ended

consent_expired = Expired
consent_ended = Ended

## Messages with variables

attempts_left =
    { $count ->
        [one] { $count } attempt left.
       *[other] { $count } attempts left.
    }
consents_past =
    { $count ->
        [one] { $count } earlier consent
       *[other] { $count } earlier consents
    }
date_time = { $day } { $month } { $year }, { $time } UTC
