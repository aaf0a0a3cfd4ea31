"""`python -m bench`: the real bot against the fake OpenAI and fake Discord, with realistic payloads, measured.

See `python -m bench --help` and the README's "Performance" section.
"""
