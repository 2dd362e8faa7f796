# trustline pages: Polski (pl). Project Fluent syntax; every message exists in every
# language (tested: src/http/i18n.rs).

app = trustline
console = Konsola zgodności
privacy = Centrum prywatności
logout = Wyloguj się
signed_out = Wylogowano Cię.
not_signed_in = Nie jesteś zalogowany albo Twoja sesja wygasła.
forbidden = Nie możesz otworzyć tej strony.
csrf = Ten formularz wygasł lub nie pochodzi z tej witryny. Odśwież stronę i spróbuj ponownie.
login_failed = Logowanie nie powiodło się. Zacznij od nowa na stronie logowania.
not_found = Nie znaleziono.
error = Coś poszło nie tak po naszej stronie. Spróbuj ponownie później.
bad_request = Żądanie jest nieprawidłowe.
link_invalid = Ten link jest nieprawidłowy, wygasł lub został już użyty. Poproś o nowy.
signed_in_as = Zalogowano jako
roles = Role
customer = Klient
tenant = Organizacja
templates = Profile biometryczne
templates_none = Nie przechowujemy żadnego Twojego profilu biometrycznego.
modality = Profil
voice = Odcisk głosu
keystroke_fixed = Rytm pisania (tekst stały)
keystroke_free = Rytm pisania (tekst dowolny)
enrolled = Utworzono
last_used = Ostatnio użyto
never = nigdy
model = Model
delete_profiles = Usuń moje profile biometryczne
delete_explain = Usunięcie niszczy klucz, którym zaszyfrowane są wszystkie powyższe profile, więc żadnego z nich nie da się już nigdy odczytać, także z kopii zapasowych.
deleted = Twoje profile biometryczne zostały usunięte: klucz, którym były zaszyfrowane, został zniszczony.
deleted_count = Zniszczone profile
methods = Jak Cię rozpoznajemy
methods_explain = Wybierz, jak możemy Cię rozpoznawać, gdy się z nami kontaktujesz. Kod jednorazowy jest zawsze dostępny.
voiceprint = Po moim głosie
typing = Po moim rytmie pisania
code_only = Tylko kodem jednorazowym, nigdy biometrią
save = Zapisz
download = Pobierz wszystkie moje dane (JSON)
consents = Twoje zgody
purpose = Cel
status = Stan
granted = Udzielona
withdrawn = Wycofana
not_granted = Nieudzielona
grant = Wyraź zgodę
withdraw = Wycofaj
notice = Informacja
expires = Wygasa
events = Zdarzenia audytowe
search = Szukaj
export_csv = Eksportuj CSV
export_jsonl = Eksportuj JSON Lines
from = Od
to = Do
kind = Rodzaj
channel = Kanał
outcome = Wynik
agent = Konsultant
time = Czas
index = Indeks
next_page = Następna strona
no_results = Brak pasujących zdarzeń.
log = Integralność dziennika
verify = Zweryfikuj dziennik teraz
tree_heads = Podpisane korzenie drzewa
receipt = Potwierdzenie
policies = Obowiązujące zasady
models = Modele i progi
thresholds = Progi
policy_history = Każda wczytana wersja (decyzje wskazują ją przez SHA-256)
first_loaded = Pierwsze wczytanie
last_loaded = Ostatnie wczytanie
text = Tekst
show = Pokaż
calibration = Kalibracja: krzywe DET dostarczonych modeli
version = Wersja
task = Zadanie
source = Źródło
reference = Zweryfikowano względem
link_camera_title = Wideo w Twojej rozmowie
link_camera_explain = Konsultant, z którym rozmawiasz, pyta, czy i jak można użyć wideo w tej rozmowie. Decydujesz na następnej stronie.
link_privacy_title = Twoje centrum prywatności
link_privacy_explain = Ten link otwiera Twoje centrum prywatności: Twoje zgody, profile biometryczne i dane.
link_code_explain = Wpisz kod, który odczyta Ci konsultant, abyśmy mieli pewność, że to Ty.
code_label = Kod od konsultanta
continue = Dalej
wrong_code = Ten kod jest nieprawidłowy.
link_expired = Ten link wygasł. Poproś konsultanta o nowy.
link_used = Ten link został już użyty. Poproś konsultanta o nowy.
link_locked = Ten link został zablokowany po zbyt wielu błędnych kodach. Poproś konsultanta o nowy.
link_other_device = Ta strona należy do urządzenia, na którym otwarto link.
session_over = Ta rozmowa się zakończyła, więc niczego nie można już tu zmienić.
choice_not_offered = Ten wybór nie jest dostępny. Niczego nie zmieniono.
camera_title = Wideo w tej rozmowie
camera_now = Teraz
camera_not_decided = Jeszcze nie wybrano: kamera pozostaje wyłączona
camera_options = Opcje
mode_audio_only = Kamera wyłączona (tylko dźwięk)
mode_one_way = Widzę konsultanta (moja kamera wyłączona)
mode_two_way = Wideo w obie strony
opt_blur = Rozmyj moje tło
opt_recording = Nagrywanie
opt_recording_allow = Zezwól na nagrywanie wideo
days = dni
yes = tak
no = nie
camera_change_explain = W każdej chwili możesz tu zmienić lub wycofać swój wybór jednym dotknięciem; działa to natychmiast.
agent_title = Sesja: na co klient się zgodził
session_id = Sesja
agent_allowed = Dozwolone przez klienta (na żywo)
agent_links = Linki wysłane do klienta
agent_no_links = W tej sesji nie wysłano żadnego linku.
agent_code = Kod do odczytania
agent_code_explain = Odczytaj kod klientowi wyłącznie w tej rozmowie. Działa jeden raz, z linkiem wysłanym do klienta.
language = Język
brand_title = Marka na stronach dla klientów
brand_explain = Nazwa, kolory i logo, które klienci widzą na stronie kamery, stronie linku i w centrum prywatności. Kolory muszą pozostać czytelne (kontrast WCAG 4,5:1); logo to PNG lub SVG do 100 KB.
brand_name = Nazwa wyświetlana
brand_primary = Kolor główny (przyciski, biały tekst na nim)
brand_accent = Kolor akcentu (tekst i linki na białym)
brand_logo = Logo (PNG lub SVG)
brand_remove_logo = Usuń logo
brand_saved = Markę zapisano.
brand_invalid = Marki nie zapisano
brand_preview = Podgląd
brand_nav = Marka
brand_change = Zmień markę
brand_sample_button = Dalej
brand_changed = Ostatnia zmiana
brand_admin_only = Tylko administrator organizacji może zmienić markę.
tenant_admin_only = Tylko administrator organizacji może to zmienić.
month_1 = stycznia
month_2 = lutego
month_3 = marca
month_4 = kwietnia
month_5 = maja
month_6 = czerwca
month_7 = lipca
month_8 = sierpnia
month_9 = września
month_10 = października
month_11 = listopada
month_12 = grudnia

## Passkeys (privacy centre and the step-up approval page)

passkeys = Klucze dostępu (passkeys)
passkeys_explain = Klucz dostępu pozwala zatwierdzić logowanie na własnym telefonie za pomocą blokady ekranu (odcisku palca, twarzy lub kodu PIN). Klucz pozostaje na Twoim urządzeniu; przechowujemy tylko jego publiczną część.
passkeys_none = Nie masz jeszcze klucza dostępu.
passkey_name = Nazwa (opcjonalnie)
passkey_add = Dodaj klucz dostępu
passkey_check = Sprawdź mój klucz dostępu
passkey_remove = Usuń
passkey_registered = Klucz dostępu został dodany.
passkey_verified = Twój klucz dostępu działa.
passkey_failed = Nie udało się. Niczego nie zmieniono.
passkey_unsupported = Ta przeglądarka nie obsługuje kluczy dostępu.
passkey_needs_script = Klucze dostępu wymagają w tej przeglądarce JavaScriptu.
passkey_approve_title = Zatwierdź swoim kluczem dostępu
passkey_approve_explain = Rozmawiasz z nami w tej chwili i prosimy Cię o potwierdzenie, że to Ty. Sprawdź, czy poniższy kod jest tym, który słyszysz, a następnie zatwierdź kluczem dostępu (blokadą ekranu).
passkey_binding_code = Kod
passkey_approve = Zatwierdź kluczem dostępu
passkey_approved = Zatwierdzono. Możesz wrócić do rozmowy.

## Consent purposes, as the privacy centre names them

purpose_camera = Kamera podczas tej rozmowy
purpose_recording = Nagrywanie tej rozmowy
purpose_recording_reuse = Ponowne wykorzystanie nagrań po rozmowie
purpose_voiceprint_enrolment = Rozpoznawanie Cię po głosie
purpose_keystroke_enrolment = Rozpoznawanie Cię po sposobie pisania

## Links as the agent page lists them

link_purpose_camera = Zgoda na kamerę
link_purpose_passkey = Zatwierdzenie kluczem dostępu
link_status_pending = Wysłany
link_status_opened = Otwarty
link_status_redeemed = Użyty
link_status_locked = Zablokowany
link_status_expired = Wygasł

## Consents that ended

consent_expired = Wygasła
consent_ended = Zakończona

## Messages with variables

attempts_left =
    { $count ->
        [one] Została { $count } próba.
        [few] Zostały { $count } próby.
       *[many] Zostało { $count } prób.
    }
consents_past =
    { $count ->
        [one] { $count } wcześniejsza zgoda
        [few] { $count } wcześniejsze zgody
       *[many] { $count } wcześniejszych zgód
    }
date_time = { $day } { $month } { $year } r., { $time } UTC
