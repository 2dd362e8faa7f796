# trustline pages: Norsk (no). Project Fluent syntax; every message exists in every
# language (tested: src/http/i18n.rs).

app = trustline
console = Etterlevelseskonsoll
privacy = Personvernsenter
logout = Logg ut
signed_out = Du er logget ut.
not_signed_in = Du er ikke logget inn, eller økten din er utløpt.
forbidden = Du har ikke tilgang til denne siden.
csrf = Skjemaet er utløpt eller kom ikke fra dette nettstedet. Last inn siden på nytt og prøv igjen.
login_failed = Innloggingen mislyktes. Begynn på nytt fra innloggingssiden.
not_found = Ikke funnet.
error = Noe gikk galt hos oss. Prøv igjen senere.
bad_request = Forespørselen er ikke gyldig.
link_invalid = Lenken er ugyldig, utløpt eller allerede brukt. Be om en ny.
signed_in_as = Logget inn som
roles = Roller
customer = Kunde
tenant = Organisasjon
templates = Biometriske profiler
templates_none = Ingen biometrisk profil er lagret om deg.
modality = Profil
voice = Stemmeavtrykk
keystroke_fixed = Skriverytme (fast tekst)
keystroke_free = Skriverytme (fri tekst)
enrolled = Opprettet
last_used = Sist brukt
never = aldri
model = Modell
delete_profiles = Slett de biometriske profilene mine
delete_explain = Slettingen ødelegger nøkkelen som krypterer alle profilene over, slik at ingen av dem noen gang kan leses igjen, heller ikke fra sikkerhetskopier.
deleted = De biometriske profilene dine ble slettet: nøkkelen som krypterte dem, er ødelagt.
deleted_count = Ødelagte profiler
methods = Hvordan du blir gjenkjent
methods_explain = Velg hvordan vi kan gjenkjenne deg når du kontakter oss. En engangskode er alltid tilgjengelig.
voiceprint = På stemmen min
typing = På skriverytmen min
code_only = Bare med en engangskode, aldri biometri
save = Lagre
download = Last ned alle dataene mine (JSON)
consents = Dine samtykker
purpose = Formål
status = Status
granted = Gitt
withdrawn = Trukket tilbake
not_granted = Ikke gitt
grant = Gi samtykke
withdraw = Trekk tilbake
notice = Informasjon
expires = Utløper
events = Revisjonshendelser
search = Søk
export_csv = Eksporter CSV
export_jsonl = Eksporter JSON Lines
from = Fra
to = Til
kind = Type
channel = Kanal
outcome = Utfall
agent = Saksbehandler
time = Tid
index = Indeks
next_page = Neste side
no_results = Ingen hendelser samsvarer.
log = Loggens integritet
verify = Verifiser loggen nå
tree_heads = Signerte trehoder
receipt = Kvittering
policies = Gjeldende retningslinjer
models = Modeller og terskler
thresholds = Terskler
policy_history = Hver innlest versjon (beslutningene viser til én ved SHA-256)
first_loaded = Først lest inn
last_loaded = Sist lest inn
text = Tekst
show = Vis
calibration = Kalibrering: DET-kurver for de leverte modellene
version = Versjon
task = Oppgave
source = Kilde
reference = Verifisert mot
link_camera_title = Video i samtalen din
link_camera_explain = Saksbehandleren du snakker med, spør om og hvordan video kan brukes i denne samtalen. Du bestemmer på neste side.
link_privacy_title = Personvernsenteret ditt
link_privacy_explain = Lenken åpner personvernsenteret ditt: samtykkene dine, de biometriske profilene dine og dataene dine.
link_code_explain = Skriv inn koden saksbehandleren leser opp for deg, slik at vi vet at det er deg.
code_label = Kode fra saksbehandleren
continue = Fortsett
wrong_code = Koden stemmer ikke.
link_expired = Lenken er utløpt. Be saksbehandleren om en ny.
link_used = Lenken er allerede brukt. Be saksbehandleren om en ny.
link_locked = Lenken er sperret etter for mange feil koder. Be saksbehandleren om en ny.
link_other_device = Denne siden hører til enheten som åpnet lenken.
session_over = Samtalen er avsluttet, så ingenting kan endres her lenger.
choice_not_offered = Det valget tilbys ikke. Ingenting ble endret.
camera_title = Video i denne samtalen
camera_now = Nå
camera_not_decided = Ikke valgt ennå: kameraet forblir av
camera_options = Alternativer
mode_audio_only = Kameraet av (bare lyd)
mode_one_way = Jeg ser saksbehandleren (kameraet mitt av)
mode_two_way = Video begge veier
opt_blur = Gjør bakgrunnen min uskarp
opt_recording = Opptak
opt_recording_allow = Tillat at videoen tas opp
days = dager
yes = ja
no = nei
camera_change_explain = Du kan når som helst endre eller trekke tilbake valget ditt her med ett trykk; det gjelder med én gang.
agent_title = Økt: hva kunden har tillatt
session_id = Økt
agent_allowed = Tillatt av kunden (direkte)
agent_links = Lenker sendt til kunden
agent_no_links = Ingen lenke er sendt i denne økten.
agent_code = Kode som skal leses opp
agent_code_explain = Les koden opp for kunden bare i denne samtalen. Den virker én gang, med lenken som ble sendt til kunden.
language = Språk
brand_title = Merkevare på kundesider
brand_explain = Navnet, fargene og logoen kundene ser på kamerasiden, lenkesiden og personvernsenteret. Fargene må være lesbare (WCAG-kontrast 4,5:1); logoer er PNG eller SVG på høyst 100 kB.
brand_name = Visningsnavn
brand_primary = Hovedfarge (knapper, hvit tekst på den)
brand_accent = Aksentfarge (tekst og lenker på hvitt)
brand_logo = Logo (PNG eller SVG)
brand_remove_logo = Fjern logoen
brand_saved = Merkevaren ble lagret.
brand_invalid = Merkevaren ble ikke lagret
brand_preview = Forhåndsvisning
brand_nav = Merkevare
brand_change = Endre merkevaren
brand_sample_button = Fortsett
brand_changed = Sist endret
brand_admin_only = Bare en administrator for organisasjonen kan endre merkevaren.
tenant_admin_only = Bare en administrator for organisasjonen kan endre dette.
month_1 = januar
month_2 = februar
month_3 = mars
month_4 = april
month_5 = mai
month_6 = juni
month_7 = juli
month_8 = august
month_9 = september
month_10 = oktober
month_11 = november
month_12 = desember

## Passkeys (privacy centre and the step-up approval page)

passkeys = Tilgangsnøkler (passkeys)
passkeys_explain = Med en tilgangsnøkkel godkjenner du en innlogging på din egen telefon med skjermlåsen (fingeravtrykk, ansikt eller PIN-kode). Nøkkelen blir på enheten din; vi lagrer bare den offentlige delen.
passkeys_none = Du har ingen tilgangsnøkkel ennå.
passkey_name = Navn (valgfritt)
passkey_add = Legg til en tilgangsnøkkel
passkey_check = Test tilgangsnøkkelen min
passkey_remove = Fjern
passkey_registered = Tilgangsnøkkelen din er lagt til.
passkey_verified = Tilgangsnøkkelen din virker.
passkey_failed = Det fungerte ikke. Ingenting ble endret.
passkey_unsupported = Denne nettleseren støtter ikke tilgangsnøkler.
passkey_needs_script = Tilgangsnøkler krever JavaScript i denne nettleseren.
passkey_approve_title = Godkjenn med tilgangsnøkkelen din
passkey_approve_explain = Du snakker med oss akkurat nå, og vi ber deg bekrefte at det er deg. Sjekk at koden nedenfor er den du hører, og godkjenn deretter med tilgangsnøkkelen din (skjermlåsen).
passkey_binding_code = Kode
passkey_approve = Godkjenn med tilgangsnøkkel
passkey_approved = Godkjent. Du kan gå tilbake til samtalen.

## Consent purposes, as the privacy centre names them

purpose_camera = Kamera under denne samtalen
purpose_recording = Opptak av denne samtalen
purpose_recording_reuse = Gjenbruk av opptak etter samtalen
purpose_voiceprint_enrolment = Å kjenne deg igjen på stemmen
purpose_keystroke_enrolment = Å kjenne deg igjen på hvordan du skriver

## Links as the agent page lists them

link_purpose_camera = Samtykke til kameraet
link_purpose_passkey = Godkjenning med tilgangsnøkkel
link_status_pending = Sendt
link_status_opened = Åpnet
link_status_redeemed = Brukt
link_status_locked = Sperret
link_status_expired = Utløpt

## Consents that ended

consent_expired = Utløpt
consent_ended = Avsluttet

## Messages with variables

attempts_left = { $count } forsøk igjen.
consents_past =
    { $count ->
        [one] { $count } tidligere samtykke
       *[other] { $count } tidligere samtykker
    }
date_time = { $day }. { $month } { $year } kl. { $time } UTC
