// The Kotlin kit on a plain JVM against a running stack: one whole
// verification through PhoneVerificationClient, with the Twilio stand-in as
// the OneTimeCodeSource where an app has the SMS Retriever, then the proof
// token checked against the JWKS with the JDK's Ed25519, as a Kotlin backend
// would (clients/backend/verify-token.mjs checks the same). scripts/test.sh
// compiles it with the kit and runs it against its end-to-end stack:
//   (source scripts/lib.sh && build_kotlin_kit &&
//     java -cp "$KOTLIN_KIT_CLASSPATH" com.example.phoneverification.check.KitCheckKt API_URL STANDIN_URL)
// Prints each step; stops at the first failure, saying what went wrong (exit 1).
package com.example.phoneverification.check

import com.example.phoneverification.Json
import com.example.phoneverification.NextStep
import com.example.phoneverification.OneTimeCodeSource
import com.example.phoneverification.PhoneVerificationClient
import com.example.phoneverification.VerificationException
import com.example.phoneverification.codeInMessage
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.KeyFactory
import java.security.Signature
import java.security.spec.X509EncodedKeySpec
import java.time.Duration
import java.time.Instant
import java.time.temporal.ChronoUnit
import java.util.Base64
import kotlin.system.exitProcess

private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()

private fun getJson(url: String): Any? {
    val request = HttpRequest.newBuilder(URI(url)).timeout(Duration.ofSeconds(10)).build()
    val response = http.send(request, HttpResponse.BodyHandlers.ofString())
    check(response.statusCode() == 200) { "GET $url: HTTP ${response.statusCode()} ${response.body()}" }
    return Json.parse(response.body())
}

/** The stand-in's GET /messages?to=NUMBER: what it "sent" to [number], oldest first. */
private fun messagesTo(standin: String, number: String): List<Map<*, *>> =
    (getJson("$standin/messages?to=${URLEncoder.encode(number, Charsets.UTF_8)}") as List<*>).map { it as Map<*, *> }

/** The code of the next SMS the stand-in "sends" to [number]: this check's SMS Retriever. */
private class StandinCodeSource(
    private val standin: String,
    private val number: String,
    private val scope: CoroutineScope,
) : OneTimeCodeSource {
    private var polling: Job? = null

    override fun start(onCode: (String) -> Unit, onTimeout: () -> Unit) {
        val seen = messagesTo(standin, number).size
        polling = scope.launch(Dispatchers.IO) {
            val sms = withTimeoutOrNull(10_000) {
                var next = messagesTo(standin, number).getOrNull(seen)
                while (next == null) {
                    delay(100)
                    next = messagesTo(standin, number).getOrNull(seen)
                }
                next["body"] as String
            }
            sms?.let(::codeInMessage)?.let(onCode) ?: onTimeout()
        }
    }

    override fun stop() {
        polling?.cancel()
    }
}

private fun base64Url(part: String): ByteArray = Base64.getUrlDecoder().decode(part)

/** Ed25519 public key bytes as X.509 SubjectPublicKeyInfo: the fixed DER prefix of RFC 8410, then the key. */
private val ED25519_SPKI_PREFIX = "302a300506032b6570032100".chunked(2).map { it.toInt(16).toByte() }.toByteArray()

/** The token's claims if its EdDSA signature verifies with a key of [jwks]; fails otherwise. */
private fun verifiedClaims(token: String, jwks: Map<*, *>): Map<*, *> {
    val parts = token.split('.')
    check(parts.size == 3) { "not a JWS compact token: ${parts.size} parts" }
    val header = Json.parse(base64Url(parts[0]).decodeToString()) as Map<*, *>
    check(header["alg"] == "EdDSA") { "alg ${header["alg"]}, not EdDSA" }
    val jwk = (jwks["keys"] as List<*>).map { it as Map<*, *> }.find { it["kid"] == header["kid"] }
        ?: error("no key ${header["kid"]} in the JWKS")
    check(jwk["kty"] == "OKP" && jwk["crv"] == "Ed25519") { "key ${jwk["kid"]} is not Ed25519: $jwk" }
    val key = KeyFactory.getInstance("Ed25519")
        .generatePublic(X509EncodedKeySpec(ED25519_SPKI_PREFIX + base64Url(jwk["x"] as String)))
    val verifier = Signature.getInstance("Ed25519").apply {
        initVerify(key)
        update("${parts[0]}.${parts[1]}".encodeToByteArray())
    }
    check(verifier.verify(base64Url(parts[2]))) { "the signature does not verify with key ${jwk["kid"]}" }
    return Json.parse(base64Url(parts[1]).decodeToString()) as Map<*, *>
}

/** The failure the call must end in. */
private suspend fun refused(call: suspend () -> Any): VerificationException {
    val answer = try {
        call()
    } catch (e: VerificationException) {
        return e
    }
    error("expected a refusal, got $answer")
}

private var passed = 0

private suspend fun <T> step(name: String, body: suspend () -> T): T {
    val result = try {
        body()
    } catch (e: Exception) {
        // A failed check() says what went wrong; anything else, what it is too.
        System.err.println("FAIL $name: ${if (e is IllegalStateException) e.message else e}")
        println("$passed passed, 1 failed")
        exitProcess(1)
    }
    passed++
    println("ok   $name")
    return result
}

fun main(args: Array<String>) = runBlocking {
    if (args.size != 2) {
        System.err.println("usage: KitCheckKt API_URL TWILIO_STANDIN_URL")
        exitProcess(2)
    }
    val (api, standin) = args
    val client = PhoneVerificationClient(api)

    // Fictional numbers (555-0100..0199) of an area code no other check uses;
    // one the stand-in has not sent to, as per-number limits outlive a run.
    val number = step("a number the stand-in has not sent to") {
        (100..199).map { "+1503555%04d".format(it) }.firstOrNull { messagesTo(standin, it).isEmpty() }
            ?: error("the stand-in has sent to every +1 503 555 01xx number: restart the stack")
    }

    val code = CompletableDeferred<String>()
    val codeSource = StandinCodeSource(standin, number, this)
    codeSource.start(onCode = { code.complete(it) }, onTimeout = {
        code.completeExceptionally(IllegalStateException("no SMS with a code reached the stand-in for $number"))
    })

    val pending = step("sendCode: pending, with a resend cooldown and a call as its fallback") {
        client.sendCode(number).also {
            check(it.phoneNumber == number && it.channel == "sms") { "$it" }
            check(it.attemptsRemaining > 1 && !it.deliveryUnconfirmed) { "$it" }
            check(it.resendAvailableAt.isAfter(Instant.now()) && it.expiresAt.isAfter(it.resendAvailableAt)) { "$it" }
            // The local stack enables calls: a call is the SMS's fallback, due before the cooldown ends.
            val fallback = checkNotNull(it.fallback) { "no fallback: $it" }
            check(fallback.channels == listOf("call") && fallback.availableAt.isBefore(it.resendAvailableAt)) { "$it" }
        }
    }

    step("a resend at once is resend_too_soon, with Retry-After") {
        // The server counts whole seconds from the second it was asked in
        // (same machine, same clock): its wait is at most the one from there.
        val askedAt = Instant.now().truncatedTo(ChronoUnit.SECONDS)
        val e = refused { client.sendCode(number) }
        check(e.httpStatus == 429 && e.reason == "resend_too_soon") { "$e" }
        val wait = e.nextStep
        check(wait is NextStep.Wait && wait.seconds in 1..Duration.between(askedAt, pending.resendAvailableAt).seconds) {
            "next step $wait, resend available at ${pending.resendAvailableAt}"
        }
    }

    val typed = step("the code, from the stand-in's SMS through a OneTimeCodeSource") { code.await() }
    codeSource.stop()

    step("a wrong code is incorrect_code, with one attempt fewer") {
        val wrong = "${(typed[0].digitToInt() + 1) % 10}${typed.drop(1)}"
        val e = refused { client.verify(number, wrong) }
        check(e.httpStatus == 400 && e.reason == "incorrect_code") { "$e" }
        check(e.nextStep == NextStep.RetypeCode(pending.attemptsRemaining - 1)) { "next step ${e.nextStep}" }
    }

    val approved = step("the right code is approved, with a proof token") {
        client.verify(pending.phoneNumber, typed).also {
            check(it.phoneNumber == number && it.token != null) { "$it" }
        }
    }

    step("the used code is refused: code_already_used") {
        val e = refused { client.verify(number, typed) }
        check(e.httpStatus == 409 && e.reason == "code_already_used") { "$e" }
        check(e.nextStep == NextStep.RequestNewCode) { "next step ${e.nextStep}" }
    }

    val token = approved.token!!
    val jwks = getJson("$api/.well-known/jwks.json") as Map<*, *>
    val claims = step("the token's EdDSA signature verifies with the JWKS (JDK Ed25519)") { verifiedClaims(token, jwks) }

    step("its claims: this number, verified by a typed code (amr otp) through the Parse API, unexpired") {
        check(claims["iss"] == "phone-verification") { "iss ${claims["iss"]}" }
        check(claims["sub"] == number && claims["phone_number"] == number) { "sub ${claims["sub"]}, phone_number ${claims["phone_number"]}" }
        check(claims["phone_number_verified"] == true) { "phone_number_verified ${claims["phone_number_verified"]}" }
        check(claims["svc"] == "parse") { "svc ${claims["svc"]}" }
        check(claims["amr"] == listOf("otp")) { "amr ${claims["amr"]}" }
        check(claims["vid"] is String && claims["jti"] is String) { "vid ${claims["vid"]}, jti ${claims["jti"]}" }
        val now = Instant.now().epochSecond
        val (iat, exp) = listOf(claims["iat"], claims["exp"]).map { it as? Long ?: error("iat/exp not integers: $claims") }
        check(iat <= now + 5 && exp > now && exp > iat) { "iat $iat, exp $exp, now $now" }
    }

    step("a token with another number in it fails the signature check") {
        val (header, payload, signature) = token.split('.')
        val forged = base64Url(payload).decodeToString().replace(number, "+15035550000")
        val forgedPayload = Base64.getUrlEncoder().withoutPadding().encodeToString(forged.encodeToByteArray())
        val e = runCatching { verifiedClaims("$header.$forgedPayload.$signature", jwks) }.exceptionOrNull()
        check(e?.message?.startsWith("the signature does not verify") == true) { "the forged token: ${e ?: "accepted"}" }
    }

    println("$passed passed, 0 failed")
}
