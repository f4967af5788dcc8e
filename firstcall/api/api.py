from ninja import NinjaAPI

api = NinjaAPI(title="firstcall API", version="1")
