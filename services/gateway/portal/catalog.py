"""Every text of the portal in Polish and in English, by key (templates call ``t(key)``)."""

from __future__ import annotations

# key: (Polish, English). Placeholders are ``{name}`` and filled by ``translate``.
MESSAGES: dict[str, tuple[str, str]] = {
    # layout
    "layout.site": ("IBOK", "IBOK"),
    "layout.utility": ("Internetowe Biuro Obsługi Klienta", "Internet Customer Service Office"),
    "layout.skip": ("Przejdź do treści", "Skip to content"),
    "layout.language": ("Język", "Language"),
    "layout.logged_in_as": ("Zalogowano jako", "Logged in as"),
    "layout.logout": ("Wyloguj", "Log out"),
    "layout.footer": (
        "Przedsiębiorstwo Wodociągów i Kanalizacji · Internetowe Biuro Obsługi Klienta",
        "Water and Sewage Company · Internet Customer Service Office",
    ),
    "nav.label": ("Menu główne", "Main menu"),
    "nav.home": ("Start", "Home"),
    "nav.terms": ("Regulamin", "Terms of service"),
    # forms
    "form.title_prefix": ("Błąd:", "Error:"),
    "form.summary": ("Popraw następujące błędy", "There is a problem"),
    "form.error_prefix": ("Błąd:", "Error:"),
    "form.expired": (
        "Formularz wygasł lub nie pochodzi z tej strony. Wyślij go jeszcze raz.",
        "The form has expired or did not come from this site. Please send it again.",
    ),
    "form.required": ("Wypełnij pole „{label}”.", "Enter {label}."),
    "form.too_short": (
        "Pole „{label}” musi mieć co najmniej {min} znaków.",
        "{label} must be at least {min} characters.",
    ),
    "form.too_long": (
        "Pole „{label}” może mieć najwyżej {max} znaków.",
        "{label} must be at most {max} characters.",
    ),
    "form.pattern": (
        "Pole „{label}” zawiera niedozwolone znaki.",
        "{label} contains characters that are not allowed.",
    ),
    "form.choice": ("Wybierz jedną z możliwości: „{label}”.", "Choose one option for {label}."),
    "form.invalid": ("Sprawdź pole „{label}”.", "Check {label}."),
    # flash notices
    "flash.logged_out": ("Wylogowano. Do zobaczenia!", "You have logged out. Goodbye!"),
    "flash.email_verified": (
        "Adres e-mail potwierdzony. Możesz się zalogować.",
        "Your email address is confirmed. You can log in now.",
    ),
    "flash.session_ended": (
        "Sesja wygasła. Zaloguj się ponownie.",
        "Your session has ended. Please log in again.",
    ),
    "flash.language_changed": ("Zmieniono język.", "Language changed."),
    # login
    "login.title": ("Logowanie", "Log in"),
    "login.login": ("Login", "Login"),
    "login.password": ("Hasło", "Password"),
    "login.submit": ("Zaloguj się", "Log in"),
    "login.login_missing": ("Wpisz login.", "Enter your login."),
    "login.password_missing": ("Wpisz hasło.", "Enter your password."),
    "login.forgot": ("Nie pamiętasz hasła?", "Forgotten your password?"),
    "login.no_account": ("Nie masz konta?", "No account yet?"),
    "login.register": ("Zarejestruj się", "Register"),
    # registration
    "register.title": ("Rejestracja konta", "Create an account"),
    "register.lead": (
        "Konto w IBOK może założyć klient z aktualną umową na dostawę wody i odprowadzanie ścieków. "
        "Dane znajdziesz na umowie lub fakturze.",
        "Customers with a current water supply and sewage contract can create an IBOK account. "
        "You will find the details on your contract or invoice.",
    ),
    "register.who": ("Dane klienta", "Your customer details"),
    "register.account": ("Dane konta", "Your account"),
    "register.customer_number": ("Numer klienta", "Customer number"),
    "register.customer_number.hint": ("Na przykład K000123.", "For example K000123."),
    "register.contract_number": ("Numer umowy", "Contract number"),
    "register.contract_number.hint": (
        "Na przykład U/2024/000123/1.",
        "For example U/2024/000123/1.",
    ),
    "register.identity_kind": ("Dokument tożsamości w umowie", "Identity number on the contract"),
    "register.pesel": ("PESEL (osoba fizyczna)", "PESEL (a person)"),
    "register.nip": ("NIP (firma)", "NIP (a business)"),
    "register.identity_number": ("Numer PESEL lub NIP", "PESEL or NIP number"),
    "register.identity_number.hint": (
        "Same cyfry. Służy tylko do sprawdzenia, że to Ty; nie zapisujemy go.",
        "Digits only. It is used only to check who you are; we do not store it.",
    ),
    "register.login": ("Login", "Login"),
    "register.login.hint": (
        "Od 3 do 32 znaków: litery, cyfry, kropka, minus lub podkreślenie. Loginu nie można później zmienić.",
        "3 to 32 characters: letters, digits, dot, hyphen or underscore. It cannot be changed later.",
    ),
    "register.password": ("Hasło", "Password"),
    "register.password.hint": (
        "Od 6 do 20 znaków, co najmniej jedna litera i jedna cyfra.",
        "6 to 20 characters, at least one letter and one digit.",
    ),
    "register.password_again": ("Powtórz hasło", "Repeat the password"),
    "register.passwords_differ": ("Hasła nie są takie same.", "The passwords do not match."),
    "register.email": ("Adres e-mail", "Email address"),
    "register.email.hint": (
        "Wyślemy na niego link potwierdzający.",
        "We will send a confirmation link to it.",
    ),
    "register.submit": ("Załóż konto", "Create account"),
    "register.have_account": ("Masz już konto?", "Already registered?"),
    "register.login_link": ("Zaloguj się", "Log in"),
    "registered.title": ("Sprawdź skrzynkę e-mail", "Check your email"),
    "registered.text": (
        "Wysłaliśmy link potwierdzający na adres {email}.",
        "We have sent a confirmation link to {email}.",
    ),
    "registered.next": (
        "Otwórz link z wiadomości, aby potwierdzić adres. Potem możesz się zalogować.",
        "Open the link in the message to confirm your address. Then you can log in.",
    ),
    "registered.login_link": ("Przejdź do logowania", "Go to log in"),
    # email verification
    "verify.title": ("Potwierdzenie adresu e-mail", "Confirm your email address"),
    "verify.text": (
        "Kliknij przycisk, aby potwierdzić adres e-mail i aktywować konto.",
        "Press the button to confirm your email address and activate your account.",
    ),
    "verify.submit": ("Potwierdzam adres e-mail", "Confirm my email address"),
    "verify.no_token": (
        "Brak kodu potwierdzenia. Otwórz link z wiadomości e-mail jeszcze raz.",
        "The confirmation code is missing. Open the link from the email again.",
    ),
    "verify.token_invalid": (
        "Link jest nieprawidłowy lub wygasł.",
        "The link is not valid or has expired.",
    ),
    # start page
    "home.title": ("Start", "Home"),
    "home.greeting": ("Dzień dobry, {name}", "Hello, {name}"),
    "home.customer_number": ("Numer klienta:", "Customer number:"),
    "home.account": ("Twoje konto", "Your account"),
    "home.login": ("Login", "Login"),
    "home.email": ("E-mail", "Email"),
    "home.since": ("Konto od", "Account since"),
    # errors
    "error.home": ("Wróć na stronę główną", "Go to the home page"),
    "error.400": ("Nieprawidłowe żądanie", "Bad request"),
    "error.400.text": (
        "Adres lub dane formularza są nieprawidłowe.",
        "The address or the form data is not valid.",
    ),
    "error.403": ("Brak dostępu", "Access denied"),
    "error.403.text": ("Nie masz dostępu do tej strony.", "You may not open this page."),
    "error.404": ("Nie znaleziono strony", "Page not found"),
    "error.404.text": (
        "Sprawdź adres albo przejdź na stronę główną.",
        "Check the address or go to the home page.",
    ),
    "error.405": ("Niedozwolona operacja", "Not allowed"),
    "error.405.text": ("Tej strony nie można tak otworzyć.", "This page cannot be used that way."),
    "error.413": ("Za dużo danych", "Too much data"),
    "error.413.text": ("Wysłane dane są za duże.", "The data sent is too large."),
    "error.429": ("Zbyt wiele prób", "Too many attempts"),
    "error.429.text": (
        "Odczekaj chwilę i spróbuj ponownie.",
        "Wait a moment and try again.",
    ),
    "error.500": ("Wystąpił błąd", "Something went wrong"),
    "error.500.text": (
        "Przepraszamy, coś poszło nie tak. Spróbuj ponownie za chwilę.",
        "Sorry, something went wrong. Please try again shortly.",
    ),
    "error.503": ("Usługa chwilowo niedostępna", "Service temporarily unavailable"),
    "error.503.text": (
        "Spróbuj ponownie za kilka minut.",
        "Please try again in a few minutes.",
    ),
}
