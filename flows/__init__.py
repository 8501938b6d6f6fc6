"""Orchestration: the `stylemotion` command line and the Prefect flows composing the other packages.

Three layers: the library jobs (`flows.jobs`, no Prefect), the Prefect flows (the modules of
`flows/` itself) and the command line (`flows.cli`); each imports only the layers below it. The
only package allowed to import Prefect; it may import every other package. Importing it
first forwards the library loggers to Prefect run logs (`flows.logging_setup`), which must
happen before Prefect configures its logging.
"""

from flows.logging_setup import forward_library_loggers

forward_library_loggers()
