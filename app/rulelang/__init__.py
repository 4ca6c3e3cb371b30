"""The rule language: strict YAML loading with problems that name file, item and field, the `when`
conditions shared by severity and routing rules, the domain words they speak, and the durable_rules
adapter. Imports nothing else of the app."""
