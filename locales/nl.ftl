# trustline pages: Nederlands (nl). Project Fluent syntax; every message exists in every
# language (tested: src/http/i18n.rs).

app = trustline
console = Compliance-console
privacy = Privacycentrum
logout = Afmelden
signed_out = U bent afgemeld.
not_signed_in = U bent niet aangemeld, of uw sessie is verlopen.
forbidden = U mag deze pagina niet openen.
csrf = Dit formulier is verlopen of kwam niet van deze site. Laad de pagina opnieuw en probeer het nog eens.
login_failed = Aanmelden is mislukt. Begin opnieuw vanaf de aanmeldpagina.
not_found = Niet gevonden.
error = Er ging bij ons iets mis. Probeer het later opnieuw.
bad_request = Het verzoek is niet geldig.
link_invalid = Deze link is ongeldig, verlopen of al gebruikt. Vraag een nieuwe aan.
signed_in_as = Aangemeld als
roles = Rollen
customer = Klant
tenant = Organisatie
templates = Biometrische profielen
templates_none = Er is geen biometrisch profiel van u opgeslagen.
modality = Profiel
voice = Stemafdruk
keystroke_fixed = Typritme (vaste tekst)
keystroke_free = Typritme (vrije tekst)
enrolled = Aangemaakt
last_used = Laatst gebruikt
never = nooit
model = Model
delete_profiles = Mijn biometrische profielen verwijderen
delete_explain = Verwijderen vernietigt de sleutel waarmee alle hierboven genoemde profielen versleuteld zijn; geen ervan kan daarna nog gelezen worden, ook niet uit back-ups.
deleted = Uw biometrische profielen zijn verwijderd: de sleutel waarmee ze versleuteld waren is vernietigd.
deleted_count = Vernietigde profielen
methods = Hoe u herkend wordt
methods_explain = Kies hoe wij u mogen herkennen als u contact opneemt. Een eenmalige code is altijd mogelijk.
voiceprint = Aan mijn stem
typing = Aan mijn typritme
code_only = Alleen met een eenmalige code, nooit biometrie
save = Opslaan
download = Al mijn gegevens downloaden (JSON)
consents = Uw toestemmingen
purpose = Doel
status = Status
granted = Gegeven
withdrawn = Ingetrokken
not_granted = Niet gegeven
grant = Toestemming geven
withdraw = Intrekken
notice = Toelichting
expires = Verloopt
events = Auditgebeurtenissen
search = Zoeken
export_csv = Exporteren als CSV
export_jsonl = Exporteren als JSON Lines
from = Van
to = Tot
kind = Soort
channel = Kanaal
outcome = Uitkomst
agent = Medewerker
time = Tijd
index = Index
next_page = Volgende pagina
no_results = Geen gebeurtenissen gevonden.
log = Integriteit van het logboek
verify = Logboek nu verifiëren
tree_heads = Ondertekende boomwortels
receipt = Ontvangstbewijs
policies = Geldend beleid
models = Modellen en drempels
thresholds = Drempels
policy_history = Elke geladen versie (beslissingen noemen er een bij SHA-256)
first_loaded = Eerst geladen
last_loaded = Laatst geladen
text = Tekst
show = Tonen
calibration = Kalibratie: DET-curves van de meegeleverde modellen
version = Versie
task = Taak
source = Bron
reference = Geverifieerd tegen
link_camera_title = Video in uw gesprek
link_camera_explain = De medewerker met wie u spreekt vraagt of en hoe video in dit gesprek gebruikt mag worden. U beslist op de volgende pagina.
link_privacy_title = Uw privacycentrum
link_privacy_explain = Deze link opent uw privacycentrum: uw toestemmingen, uw biometrische profielen en uw gegevens.
link_code_explain = Typ de code die de medewerker u voorleest, zodat we weten dat u het bent.
code_label = Code van de medewerker
continue = Doorgaan
wrong_code = Die code klopt niet.
link_expired = Deze link is verlopen. Vraag de medewerker om een nieuwe.
link_used = Deze link is al gebruikt. Vraag de medewerker om een nieuwe.
link_locked = Deze link is geblokkeerd na te veel verkeerde codes. Vraag de medewerker om een nieuwe.
link_other_device = Deze pagina hoort bij het apparaat waarop de link is geopend.
session_over = Dit gesprek is afgelopen; hier kan niets meer worden gewijzigd.
choice_not_offered = Die keuze wordt niet aangeboden. Er is niets gewijzigd.
camera_title = Video in dit gesprek
camera_now = Nu
camera_not_decided = Nog niet gekozen: de camera blijft uit
camera_options = Opties
mode_audio_only = Camera uit (alleen geluid)
mode_one_way = Ik zie de medewerker (mijn camera uit)
mode_two_way = Video in beide richtingen
opt_blur = Mijn achtergrond vervagen
opt_recording = Opname
opt_recording_allow = Opname van de video toestaan
days = dagen
yes = ja
no = nee
camera_change_explain = U kunt uw keuze hier altijd met één tik wijzigen of intrekken; dat geldt meteen.
agent_title = Sessie: wat de klant heeft toegestaan
session_id = Sessie
agent_allowed = Toegestaan door de klant (live)
agent_links = Links naar de klant
agent_no_links = In deze sessie is geen link verstuurd.
agent_code = Voor te lezen code
agent_code_explain = Lees de code alleen in dit gesprek aan de klant voor. Hij werkt één keer, met de link die de klant kreeg.
language = Taal
brand_title = Huisstijl op klantpagina's
brand_explain = De naam, kleuren en het logo die klanten zien op de camerapagina, de linkpagina en het privacycentrum. Kleuren moeten leesbaar blijven (WCAG-contrast 4,5:1); logo's zijn PNG of SVG tot 100 kB.
brand_name = Weergavenaam
brand_primary = Hoofdkleur (knoppen, witte tekst erop)
brand_accent = Accentkleur (tekst en links op wit)
brand_logo = Logo (PNG of SVG)
brand_remove_logo = Logo verwijderen
brand_saved = De huisstijl is opgeslagen.
brand_invalid = De huisstijl is niet opgeslagen
brand_preview = Voorbeeld
brand_nav = Huisstijl
brand_change = Huisstijl wijzigen
brand_sample_button = Doorgaan
brand_changed = Laatst gewijzigd
brand_admin_only = Alleen een beheerder van de organisatie kan de huisstijl wijzigen.
tenant_admin_only = Alleen een beheerder van de organisatie mag dit wijzigen.
month_1 = januari
month_2 = februari
month_3 = maart
month_4 = april
month_5 = mei
month_6 = juni
month_7 = juli
month_8 = augustus
month_9 = september
month_10 = oktober
month_11 = november
month_12 = december

## Passkeys (privacy centre and the step-up approval page)

passkeys = Passkeys
passkeys_explain = Met een passkey keurt u een aanmelding goed op uw eigen telefoon, met de schermvergrendeling (vingerafdruk, gezicht of pincode). De sleutel blijft op uw apparaat; wij bewaren alleen het publieke deel.
passkeys_none = U heeft nog geen passkey.
passkey_name = Naam (optioneel)
passkey_add = Passkey toevoegen
passkey_check = Mijn passkey controleren
passkey_remove = Verwijderen
passkey_registered = Uw passkey is toegevoegd.
passkey_verified = Uw passkey werkt.
passkey_failed = Dat is niet gelukt. Er is niets veranderd.
passkey_unsupported = Deze browser ondersteunt geen passkeys.
passkey_needs_script = Passkeys hebben JavaScript nodig in deze browser.
passkey_approve_title = Goedkeuren met uw passkey
passkey_approve_explain = U spreekt nu met ons en wij vragen u te bevestigen dat u het bent. Controleer of de code hieronder de code is die u hoort, en keur dan goed met uw passkey (uw schermvergrendeling).
passkey_binding_code = Code
passkey_approve = Goedkeuren met passkey
passkey_approved = Goedgekeurd. U kunt terug naar het gesprek.

## Consent purposes, as the privacy centre names them

purpose_camera = Camera tijdens dit gesprek
purpose_recording = Opname van dit gesprek
purpose_recording_reuse = Opnames na het gesprek hergebruiken
purpose_voiceprint_enrolment = U herkennen aan uw stem
purpose_keystroke_enrolment = U herkennen aan hoe u typt

## Links as the agent page lists them

link_purpose_camera = Toestemming voor de camera
link_purpose_passkey = Goedkeuring met passkey
link_status_pending = Verstuurd
link_status_opened = Geopend
link_status_redeemed = Gebruikt
link_status_locked = Geblokkeerd
link_status_expired = Verlopen

## Consents that ended

consent_expired = Verlopen
consent_ended = Beëindigd

## Messages with variables

attempts_left =
    { $count ->
        [one] Nog { $count } poging.
       *[other] Nog { $count } pogingen.
    }
consents_past =
    { $count ->
        [one] { $count } eerdere toestemming
       *[other] { $count } eerdere toestemmingen
    }
date_time = { $day } { $month } { $year } om { $time } UTC
