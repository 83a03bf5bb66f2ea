"""The Discord side: everything that imports discord.py or Red lives in this folder and nowhere else."""
