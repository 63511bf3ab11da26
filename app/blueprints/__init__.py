"""One package per blueprint: routes, forms and mails side by side."""
