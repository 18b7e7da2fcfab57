throw new Error('msgpackr-extract: native acceleration not installed (colony stub; msgpackr uses its JS path)')
