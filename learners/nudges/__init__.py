"""Next-step nudges: rules, ledger, content, sending (PRODUCT.md "Nudges")."""
