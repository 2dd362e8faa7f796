# trustline pages: Svenska (sv). Project Fluent syntax; every message exists in every
# language (tested: src/http/i18n.rs).

app = trustline
console = Efterlevnadskonsol
privacy = Integritetscenter
logout = Logga ut
signed_out = Du är utloggad.
not_signed_in = Du är inte inloggad, eller så har din session gått ut.
forbidden = Du får inte öppna den här sidan.
csrf = Formuläret har gått ut eller kom inte från den här webbplatsen. Ladda om sidan och försök igen.
login_failed = Inloggningen misslyckades. Börja om från inloggningssidan.
not_found = Hittades inte.
error = Något gick fel hos oss. Försök igen senare.
bad_request = Begäran är inte giltig.
link_invalid = Länken är ogiltig, har gått ut eller har redan använts. Be om en ny.
signed_in_as = Inloggad som
roles = Roller
customer = Kund
tenant = Organisation
templates = Biometriska profiler
templates_none = Ingen biometrisk profil finns sparad om dig.
modality = Profil
voice = Röstavtryck
keystroke_fixed = Skrivrytm (fast text)
keystroke_free = Skrivrytm (fri text)
enrolled = Skapad
last_used = Senast använd
never = aldrig
model = Modell
delete_profiles = Radera mina biometriska profiler
delete_explain = Raderingen förstör nyckeln som krypterar alla profiler ovan, så att ingen av dem någonsin kan läsas igen, inte heller från säkerhetskopior.
deleted = Dina biometriska profiler raderades: nyckeln som krypterade dem är förstörd.
deleted_count = Förstörda profiler
methods = Hur du känns igen
methods_explain = Välj hur vi får känna igen dig när du kontaktar oss. En engångskod finns alltid som alternativ.
voiceprint = På min röst
typing = På min skrivrytm
code_only = Bara med en engångskod, aldrig biometri
save = Spara
download = Ladda ner alla mina uppgifter (JSON)
consents = Dina samtycken
purpose = Ändamål
status = Status
granted = Givet
withdrawn = Återkallat
not_granted = Inte givet
grant = Ge samtycke
withdraw = Återkalla
notice = Information
expires = Upphör
events = Granskningshändelser
search = Sök
export_csv = Exportera CSV
export_jsonl = Exportera JSON Lines
from = Från
to = Till
kind = Typ
channel = Kanal
outcome = Utfall
agent = Handläggare
time = Tid
index = Index
next_page = Nästa sida
no_results = Inga händelser matchar.
log = Loggens integritet
verify = Verifiera loggen nu
tree_heads = Signerade trädhuvuden
receipt = Kvitto
policies = Gällande policyer
models = Modeller och tröskelvärden
thresholds = Tröskelvärden
policy_history = Varje inläst version (besluten anger en med dess SHA-256)
first_loaded = Först inläst
last_loaded = Senast inläst
text = Text
show = Visa
calibration = Kalibrering: DET-kurvor för de levererade modellerna
version = Version
task = Uppgift
source = Källa
reference = Verifierad mot
link_camera_title = Video i ditt samtal
link_camera_explain = Handläggaren du talar med frågar om och hur video får användas i det här samtalet. Du bestämmer på nästa sida.
link_privacy_title = Ditt integritetscenter
link_privacy_explain = Länken öppnar ditt integritetscenter: dina samtycken, dina biometriska profiler och dina uppgifter.
link_code_explain = Skriv koden som handläggaren läser upp för dig, så att vi vet att det är du.
code_label = Kod från handläggaren
continue = Fortsätt
wrong_code = Koden stämmer inte.
link_expired = Länken har gått ut. Be handläggaren om en ny.
link_used = Länken har redan använts. Be handläggaren om en ny.
link_locked = Länken är spärrad efter för många felaktiga koder. Be handläggaren om en ny.
link_other_device = Den här sidan hör till enheten som öppnade länken.
session_over = Samtalet är avslutat, så inget kan ändras här längre.
choice_not_offered = Det valet erbjuds inte. Inget ändrades.
camera_title = Video i det här samtalet
camera_now = Nu
camera_not_decided = Inte valt ännu: kameran förblir avstängd
camera_options = Alternativ
mode_audio_only = Kameran av (bara ljud)
mode_one_way = Jag ser handläggaren (min kamera av)
mode_two_way = Video åt båda hållen
opt_blur = Gör min bakgrund suddig
opt_recording = Inspelning
opt_recording_allow = Tillåt att videon spelas in
days = dagar
yes = ja
no = nej
camera_change_explain = Du kan när som helst ändra eller återkalla ditt val här med ett tryck; det gäller direkt.
agent_title = Session: vad kunden har tillåtit
session_id = Session
agent_allowed = Tillåtet av kunden (live)
agent_links = Länkar som skickats till kunden
agent_no_links = Ingen länk har skickats i den här sessionen.
agent_code = Kod att läsa upp
agent_code_explain = Läs bara upp koden för kunden i det här samtalet. Den fungerar en gång, med länken som skickades till kunden.
language = Språk
brand_title = Varumärke på kundsidor
brand_explain = Namnet, färgerna och logotypen som kunderna ser på kamerasidan, länksidan och integritetscentret. Färgerna måste vara läsbara (WCAG-kontrast 4,5:1); logotyper är PNG eller SVG på högst 100 kB.
brand_name = Visningsnamn
brand_primary = Huvudfärg (knappar, vit text på den)
brand_accent = Accentfärg (text och länkar på vitt)
brand_logo = Logotyp (PNG eller SVG)
brand_remove_logo = Ta bort logotypen
brand_saved = Varumärket sparades.
brand_invalid = Varumärket sparades inte
brand_preview = Förhandsvisning
brand_nav = Varumärke
brand_change = Ändra varumärket
brand_sample_button = Fortsätt
brand_changed = Senast ändrat
brand_admin_only = Endast en administratör för organisationen kan ändra varumärket.
tenant_admin_only = Endast en administratör för organisationen får ändra detta.
month_1 = januari
month_2 = februari
month_3 = mars
month_4 = april
month_5 = maj
month_6 = juni
month_7 = juli
month_8 = augusti
month_9 = september
month_10 = oktober
month_11 = november
month_12 = december

## Passkeys (privacy centre and the step-up approval page)

passkeys = Nycklar (passkeys)
passkeys_explain = Med en nyckel godkänner du en inloggning på din egen telefon med skärmlåset (fingeravtryck, ansikte eller pinkod). Nyckeln stannar på din enhet; vi sparar bara dess offentliga del.
passkeys_none = Du har ingen nyckel ännu.
passkey_name = Namn (valfritt)
passkey_add = Lägg till en nyckel
passkey_check = Testa min nyckel
passkey_remove = Ta bort
passkey_registered = Din nyckel har lagts till.
passkey_verified = Din nyckel fungerar.
passkey_failed = Det fungerade inte. Inget ändrades.
passkey_unsupported = Den här webbläsaren har inte stöd för nycklar.
passkey_needs_script = Nycklar kräver JavaScript i den här webbläsaren.
passkey_approve_title = Godkänn med din nyckel
passkey_approve_explain = Du pratar med oss just nu, och vi ber dig bekräfta att det är du. Kontrollera att koden nedan är den du hör, och godkänn sedan med din nyckel (ditt skärmlås).
passkey_binding_code = Kod
passkey_approve = Godkänn med nyckel
passkey_approved = Godkänt. Du kan gå tillbaka till samtalet.

## Consent purposes, as the privacy centre names them

purpose_camera = Kamera under det här samtalet
purpose_recording = Inspelning av det här samtalet
purpose_recording_reuse = Återanvändning av inspelningar efter samtalet
purpose_voiceprint_enrolment = Att känna igen dig på rösten
purpose_keystroke_enrolment = Att känna igen dig på hur du skriver

## Links as the agent page lists them

link_purpose_camera = Samtycke till kameran
link_purpose_passkey = Godkännande med nyckel
link_status_pending = Skickad
link_status_opened = Öppnad
link_status_redeemed = Använd
link_status_locked = Spärrad
link_status_expired = Utgången

## Consents that ended

consent_expired = Upphört
consent_ended = Avslutat

## Messages with variables

attempts_left = { $count } försök kvar.
consents_past =
    { $count ->
        [one] { $count } tidigare samtycke
       *[other] { $count } tidigare samtycken
    }
date_time = { $day } { $month } { $year } kl. { $time } UTC
