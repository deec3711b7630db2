"""modelsnap.toml, in three rooms: ``schema`` (the names it accepts, the dataclasses it becomes),
``parse`` (read and check it into a ``ProjectConfig``) and ``edit`` (write a new one, change one
keeping its comments)."""
