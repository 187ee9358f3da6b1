"""signal-bot's Slack surface beyond slash commands: the subscribe modal and the App Home.

roles.py       who is a workspace admin (users.info, cached)
views/         pure functions of data -> view JSON (modal.py, home.py), validated like Slack would
modal_data.py  what the subscribe modal shows, from the database
home.py        gathers the home tab's data and publishes it (views.publish)
listeners/     Bolt listeners (shims), registered by bot.slack_app through `register(app, …)`
"""
