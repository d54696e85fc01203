"""The sign-artifacts pipeline for OS image builds: Authenticode and verity PKCS#7."""
