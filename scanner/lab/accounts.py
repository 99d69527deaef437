"""The lab's read-only audit account, for the authenticated checks of its emulated devices.

Only the emulators and ``cityscan demo`` know it; it protects nothing outside the lab's own
namespaces. The demo hands it to the scan through the environment (``password_env`` in
``sample_configs/lab-credentials.yaml``), never on a command line.
"""

LAB_USERNAME = "cityscan-audit"
LAB_PASSWORD = "lab-only-not-a-secret"
LAB_PASSWORD_ENV = "CITYSCAN_LAB_PASSWORD"
LAB_REALM = "testrealm"   # the realm of RFC 2617's example, as hikvision_next's tests use it
