"""An agent-style service written the way a user of fastapi_sentient writes one."""
