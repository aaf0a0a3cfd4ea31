"""The Discord side of a job: ack, reply, surface, buttons, recovery, the command tree."""
